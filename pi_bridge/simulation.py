"""A small physical plant model for ``--simulate``: a reservoir, a pot and a nutrient solution.

The model produces the *voltages* an ADS1115 would read, so the simulated bridge runs
the same conversion code as a real one. Water leaves the reservoir while a pump runs,
the pot's moisture rises after watering and decays with evaporation, and EC/pH drift
slowly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import random

from . import probes


@dataclass(slots=True)
class PlantModel:
    """True physical values of one simulated node, advanced by ``step``."""

    seed: str
    reservoir_ml: float = 1800.0
    reservoir_capacity_ml: float = 2000.0
    moisture_pct: float = 45.0
    ec25_us_cm: float = 1400.0
    ph: float = 6.1
    water_temperature_c: float = 21.5
    _rng: random.Random = field(init=False)
    _pending_ml: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        # Every node starts a little different, like real plants do.
        self.moisture_pct += self._rng.uniform(-8, 8)
        self.ec25_us_cm += self._rng.uniform(-150, 150)
        self.ph += self._rng.uniform(-0.3, 0.3)

    def step(self, seconds: float, pumped_ml: float) -> None:
        """Advance the model by ``seconds`` during which ``pumped_ml`` left the reservoir."""
        pumped_ml = min(pumped_ml, self.reservoir_ml)
        self.reservoir_ml -= pumped_ml
        self._pending_ml += pumped_ml
        # Water soaks in over about a minute; a full litre takes the pot from dry to wet.
        soaked = self._pending_ml * min(1.0, seconds / 60.0)
        self._pending_ml -= soaked
        self.moisture_pct = min(95.0, self.moisture_pct + soaked * 0.05)
        self.moisture_pct = max(5.0, self.moisture_pct - seconds * 0.0005 * self.moisture_pct / 50)
        self.ec25_us_cm += self._rng.gauss(0, 1.0)
        self.ph += self._rng.gauss(0, 0.002)
        self.water_temperature_c += self._rng.gauss(0, 0.01)

    def current_water_temperature(self) -> float:
        return self.water_temperature_c

    @property
    def water_level_pct(self) -> float:
        return self.reservoir_ml / self.reservoir_capacity_ml * 100.0

    def voltage(self, probe: str) -> float:
        """What the ADC reads for ``probe``, with a little electrical noise.

        The simulated boards have fixed physical constants (the defaults in config), so
        a calibration changes how the bridge reads them, never what they output.
        """
        noise = self._rng.gauss(0, 0.002)
        t = self.water_temperature_c
        if probe == "tds":
            volts = probes.voltage_for_ec(self.ec25_us_cm, t, 1.0)
        elif probe == "ph":
            mv = (7.0 - self.ph) * probes.nernst_slope_mv(t)
            volts = 1.5 + mv / 1000.0
        elif probe == "moisture":
            volts = 2.8 + (1.2 - 2.8) * self.moisture_pct / 100.0
        elif probe == "water_level":
            volts = 0.2 + (3.0 - 0.2) * self.water_level_pct / 100.0
        elif probe == "battery":
            volts = 1.32
        else:
            raise KeyError(probe)
        return max(0.0, volts + noise)
