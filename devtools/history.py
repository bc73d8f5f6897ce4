"""A day of simulated history for the demo, delivered through the bridge's real backfill.

A node that was cut off from the broker keeps its samples in its offline queue and
backfills them when it is back; Home Assistant turns them into hourly statistics, which
the history graphs show. ``queue_history`` fills a simulated node's queue with a day of
samples from its plant model, read through the bridge's own probe code, before the
bridge starts: the bridge then backfills them exactly as after an outage.

Home Assistant imports a backfill only into sensors that exist, so the node's discovery
config (``Bridge.discovery``) is retained on the broker first, as the node itself would
have left it on its last run: its entities exist, unavailable, before the bridge starts.
"""

from __future__ import annotations

from pathlib import Path
import time

from hydro_fleet_protocol import Sample
from pi_bridge.app import Bridge
from pi_bridge.cli import _build
from pi_bridge.config import load_config
from pi_bridge.sensors import SimulatedSource

# A moisture plan would water when the pot is this dry, this much.
_DRY_PCT = 30.0
_WATERING_ML = 300.0


def build(config_path: Path) -> Bridge:
    """The simulated node of ``config_path`` (its own state directory), built but not started."""
    config = load_config(config_path)
    assert config.simulate and config.state_dir is not None, "history is for simulated nodes with a state_dir"
    return _build(config, config.state_dir)


def queue_history(bridge: Bridge, hours: float = 24.0, step: float = 60.0, now: float | None = None) -> int:
    """Queue a sample every ``step`` seconds of the last ``hours``; returns how many.

    The plant model runs forward through the day, and is watered when it gets dry, as
    a moisture plan would; sequence numbers are the sample time in deciseconds, below
    any the running bridge will use.
    """
    source = bridge.sensors.source
    assert isinstance(source, SimulatedSource)
    plant = source.plant
    end = time.time() if now is None else now
    ts = end - hours * 3600.0
    count = 0
    while ts < end:
        plant.step(step, _WATERING_ML if plant.moisture_pct < _DRY_PCT else 0.0)
        readings = bridge.sensors.read().readings
        bridge.queue.put(Sample(ts=round(ts, 3), seq=int(ts * 10), readings=dict(readings)))
        count += 1
        ts += step
    return count
