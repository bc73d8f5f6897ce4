"""What the node does with each command, answered with an Ack; no MQTT here.

The bridge parses a command, calls ``CommandHandlers.execute`` and publishes the ack;
these handlers only need the node's pumps, plans, probes and the latest readings, so they
run as well in a unit test as on a Pi.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import logging
from typing import Any, Protocol

from hydro_fleet_protocol import Ack, AckCode, Command, CommandAction, EventType, NodeSetting, PumpRun, Reading

from .calibration import CalibrationStore
from .plans import PlanRejected, PlanRunner
from .probes import CalibrationError
from .pumps import PumpBank
from .sensors import SensorArray

_LOGGER = logging.getLogger(__name__)


class CommandHost(Protocol):
    """What command handling needs from the bridge."""

    pumps: PumpBank
    plans: PlanRunner
    sensors: SensorArray
    calibration: CalibrationStore

    @property
    def water_low_pct(self) -> float: ...

    def last_readings(self) -> Mapping[str, Reading]: ...

    def latch_water_low(self, readings: Mapping[str, Reading]) -> bool: ...

    def set_water_low_pct(self, limit: float) -> None: ...

    def emit(self, event_type: str, data: dict[str, Reading]) -> None: ...


class CommandHandlers:
    """One handler per command action."""

    def __init__(self, host: CommandHost) -> None:
        self.host = host
        self._handlers: dict[CommandAction, Callable[[Command], Ack]] = {
            CommandAction.PUMP_ON: self._pump_on,
            CommandAction.PUMP_OFF: self._pump_off,
            CommandAction.SET_PLAN: self._set_plan,
            CommandAction.CALIBRATE: self._calibrate,
            CommandAction.IDENTIFY: self._identify,
            CommandAction.SET_CONFIG: self._set_config,
        }

    def execute(self, command: Command) -> Ack:
        """Carry out ``command`` and say how it went."""
        handler = self._handlers.get(command.action)
        if handler is None:
            return Ack(
                command.id,
                ok=False,
                code=AckCode.UNSUPPORTED,
                message=f"{command.action} is not supported by this node",
            )
        return handler(command)

    def _pump_for(self, command: Command) -> str | Ack:
        if command.target is None or command.target not in self.host.pumps:
            return Ack(
                command.id, ok=False, code=AckCode.UNKNOWN_PUMP, message=f"this node has no pump {command.target!r}"
            )
        return command.target

    def _pump_on(self, command: Command) -> Ack:
        key = self._pump_for(command)
        if isinstance(key, Ack):
            return key
        duration = command.params.get(PumpRun.DURATION)
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration < 86400 * 365
        ):
            return Ack(
                command.id,
                ok=False,
                code=AckCode.INVALID_DURATION,
                message="duration must be a positive number of seconds",
            )
        # The latest sample (at most one interval old); the sample loop also stops a pump that runs low.
        readings = self.host.last_readings()
        if self.host.latch_water_low(readings):
            level = readings.get("water_level")
            what = f"water level {level:.0f} %" if isinstance(level, int | float) else "float switch says low"
            self.host.emit(
                EventType.SAFETY_STOP,
                {"pump": key, "reason": "water_low", "water_level": level, "message": f"{what}; pump not started"},
            )
            return Ack(
                command.id,
                ok=False,
                code=AckCode.WATER_LOW,
                message=f"{what} (limit {self.host.water_low_pct:g} %); pump not started to protect it",
            )
        granted, clipped = self.host.pumps[key].start(duration, reason="command")
        result: dict[str, Any] = {PumpRun.DURATION: granted, PumpRun.CLIPPED: clipped}
        message = None
        if clipped:
            result[PumpRun.REQUESTED] = duration
            message = f"clipped from {duration:g} s to the pump's max runtime {granted:g} s"
        return Ack(command.id, ok=True, message=message, result=result)

    def _pump_off(self, command: Command) -> Ack:
        key = self._pump_for(command)
        if isinstance(key, Ack):
            return key
        self.host.pumps[key].stop("command")
        return Ack(command.id, ok=True)

    def _set_plan(self, command: Command) -> Ack:
        try:
            plan = self.host.plans.set_plan(command.target, command.params)
        except PlanRejected as err:
            _LOGGER.warning("set_plan %s refused: %s", command.target, err.message)
            return Ack(command.id, ok=False, code=err.code, message=err.message)
        # The state published before this ack carries the plan too (State.plans).
        return Ack(command.id, ok=True, result={"plan": plan.to_dict()})

    def _calibrate(self, command: Command) -> Ack:
        probe = command.target or ""
        sensors = self.host.sensors
        data: dict[str, Reading] = {"probe": probe}
        if probe not in sensors.calibratable:
            message = (
                f"probe {probe!r} is not fitted or cannot be calibrated (this node: {', '.join(sensors.calibratable)})"
            )
            return Ack(command.id, ok=False, code=AckCode.UNKNOWN_PROBE, message=message)
        try:
            volts = sensors.volts(probe)
            # The latest sample's temperature: reading a DS18B20 again would block the loop ~750 ms.
            last = self.host.last_readings().get("water_temperature")
            temperature = float(last) if isinstance(last, int | float) else sensors.temperature_or_default()
            result = self.host.calibration.calibrate(probe, command.params, volts, temperature)
        except CalibrationError as err:
            _LOGGER.warning("calibration of %s rejected: %s", probe, err)
            self.host.emit(EventType.CALIBRATION, data | {"ok": False, "message": str(err)})
            return Ack(command.id, ok=False, code=AckCode.CALIBRATION_REJECTED, message=str(err))
        except Exception as err:  # a probe fault while measuring is the user's to fix, not a crash
            _LOGGER.warning("calibration of %s failed: %s", probe, err)
            self.host.emit(EventType.CALIBRATION, data | {"ok": False, "message": f"probe unreadable: {err}"})
            return Ack(command.id, ok=False, code=AckCode.PROBE_UNAVAILABLE, message=f"probe unreadable: {err}")
        _LOGGER.info("calibrated %s: %s", probe, result)
        self.host.emit(EventType.CALIBRATION, data | {"ok": True} | result)
        return Ack(command.id, ok=True, result=result)

    def _set_config(self, command: Command) -> Ack:
        """Take settings from the controller (HA's water-low threshold): one rule, on the node."""
        value = command.params.get(NodeSetting.WATER_LOW_PCT)
        unknown = sorted(set(command.params) - {NodeSetting.WATER_LOW_PCT})
        if unknown or isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            extra = f"; unknown: {', '.join(unknown)}" if unknown else ""
            return Ack(
                command.id,
                ok=False,
                code=AckCode.INVALID_CONFIG,
                message=f"set_config takes {NodeSetting.WATER_LOW_PCT} (0-100 %){extra}",
            )
        self.host.set_water_low_pct(float(value))
        _LOGGER.info("water low threshold set to %g %% by the controller", value)
        return Ack(command.id, ok=True, result={NodeSetting.WATER_LOW_PCT: float(value)})

    def _identify(self, command: Command) -> Ack:
        _LOGGER.info("identify requested")
        return Ack(command.id, ok=True)
