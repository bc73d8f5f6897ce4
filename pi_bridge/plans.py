"""Watering plans that run on the node, so plants are watered with HA or the broker down.

Plans are set by command, stored in ``<state_dir>/plans.json`` and checked twice a
second. Each run waters a volume through the pump's flow rate (never past the pump's
max runtime) and reports before/after moisture and water level, volume, duration,
reason and outcome as a ``watering_report`` event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import datetime as dt
import logging
from pathlib import Path
import time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hydro_fleet_protocol import (
    MAX_PLANS,
    EventType,
    Plan,
    PlanType,
    ProtocolError,
    Reading,
    WateringOutcome,
    WateringPlan,
    time_of_day_seconds,
)

from .pumps import PumpBank
from .store import read_json, write_json

_LOGGER = logging.getLogger(__name__)
TICK_SECONDS = 0.5
_STOP_OK = ("deadline", "max_runtime")


class PlanHost(Protocol):
    """What a plan needs from the bridge."""

    pumps: PumpBank

    async def fresh_readings(self) -> dict[str, Reading]: ...

    def water_is_low(self, readings: dict[str, Reading]) -> bool: ...

    def emit(self, event_type: str, data: dict[str, Reading]) -> None: ...


def next_time_of_day(times: tuple[str, ...], after: float, tz: ZoneInfo) -> float:
    """The first of ``times`` (local wall clock in ``tz``) strictly after ``after`` (unix seconds)."""
    local = dt.datetime.fromtimestamp(after, tz)
    candidates = []
    for day in range(3):
        date = local.date() + dt.timedelta(days=day)
        for value in times:
            seconds = time_of_day_seconds(value)
            # Built from the wall clock (not midnight + seconds), so days with a DST change are right.
            clock = dt.time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
            wall = dt.datetime.combine(date, clock, tzinfo=tz)
            stamp = wall.timestamp()
            if stamp > after:
                candidates.append(stamp)
        if candidates:
            return min(candidates)
    raise AssertionError("a time of day always occurs within three days")


class PlanRunner:
    """Holds the node's plans, decides when they are due and runs them."""

    def __init__(self, state_dir: Path, host: PlanHost, tz: ZoneInfo,
                 on_change: Callable[[], None] | None = None) -> None:
        self.path = state_dir / "plans.json"
        self.host = host
        self.tz = tz
        self.on_change = on_change
        self.plans: dict[str, WateringPlan] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self._next_fire: dict[str, float] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._load()

    def _load(self) -> None:
        data = read_json(self.path)
        for key, params in (data.get("plans") or {}).items():
            try:
                self.plans[key] = WateringPlan.from_params(key, params)
            except ProtocolError as err:
                _LOGGER.warning("ignoring stored plan %s: %s", key, err)
        runs = data.get("runs") or {}
        self.runs = {k: dict(v) for k, v in runs.items() if k in self.plans and isinstance(v, dict)}

    def _save(self) -> None:
        write_json(self.path, {"plans": {k: p.to_params() for k, p in self.plans.items()}, "runs": self.runs})

    # --- set_plan --------------------------------------------------------------------

    def set_plan(self, key: str, params: dict[str, Any], default_pump: str = "pump") -> dict[str, Any]:
        """Add, replace or delete a plan; raises ProtocolError/KeyError. Returns the ack's result.

        ``{"delete": true}`` deletes (KeyError if there is none); ``{"type": "off"}`` (the
        integration's Plan) clears the slot whether or not it held a plan. ``result["plan"]``
        is the plan as the node now runs it, in the integration's ``Plan`` shape.
        """
        off = params.get("type") == str(PlanType.OFF)
        if params.get("delete") is True or off:
            if key not in self.plans and not off:
                raise KeyError(f"no plan {key!r}")
            self.plans.pop(key, None)
            self.runs.pop(key, None)
            self._next_fire.pop(key, None)
            self._save()
            self._changed()
            return {"plan": Plan(type=PlanType.OFF).to_dict(), "key": key, "deleted": True}
        if "pump" not in params:
            params = params | {"pump": default_pump}
        plan = WateringPlan.from_params(key, params)
        if plan.pump not in self.host.pumps:
            raise ProtocolError(f"plan field 'pump': this node has no pump {plan.pump!r}")
        if key not in self.plans and len(self.plans) >= MAX_PLANS:
            raise ProtocolError(f"a node holds at most {MAX_PLANS} plans")
        self.plans[key] = plan
        self.runs[key] = {"set_at": time.time()}
        self._next_fire.pop(key, None)
        self._save()
        self._changed()
        result: dict[str, Any] = {"plan": plan.to_plan().to_dict(), "key": key, "type": str(plan.type)}
        next_run = self.next_run(plan, time.time())
        if next_run is not None:
            result["next_run"] = round(next_run, 3)
        return result

    def reported(self, slots: list[str]) -> dict[str, Plan]:
        """``State.plans``: every slot (``off`` when empty) and every other stored plan."""
        plans = {key: Plan(type=PlanType.OFF) for key in slots}
        plans |= {key: plan.to_plan() for key, plan in self.plans.items()}
        return plans

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def next_run(self, plan: WateringPlan, now: float) -> float | None:
        runs = self.runs.setdefault(plan.key, {})
        if plan.type is PlanType.BASIC:
            first = plan.start_at or runs.get("set_at", now)
            if plan.check_interval is not None:  # repeating: every check_interval after the first run
                last = runs.get("last_run")
                return first if last is None else float(last) + plan.check_interval
            return None if runs.get("done") else first
        if plan.type is PlanType.TIME_BASED:
            if plan.key not in self._next_fire:
                # From the later of now and the last run: times missed while the node was off are
                # skipped, and a restart right after a run does not water twice.
                self._next_fire[plan.key] = next_time_of_day(plan.times, max(now, runs.get("last_run", 0.0)),
                                                             self.tz)
            return self._next_fire[plan.key]
        return float(runs.get("last_check", 0.0)) + (plan.check_interval or 60.0)

    # --- scheduling --------------------------------------------------------------------

    async def run(self) -> None:
        """Check the plans every TICK_SECONDS until cancelled."""
        try:
            while True:
                self.tick(time.time())
                await asyncio.sleep(TICK_SECONDS)
        finally:
            for task in self._running.values():
                task.cancel()
            if self._running:
                await asyncio.gather(*self._running.values(), return_exceptions=True)

    def tick(self, now: float) -> None:
        for plan in list(self.plans.values()):
            if not plan.enabled or plan.key in self._running:
                continue
            due = self.next_run(plan, now)
            if due is None or now < due:
                continue
            runs = self.runs[plan.key]
            if plan.type is PlanType.BASIC:
                # Stored before watering: a crash mid-run never waters twice.
                runs["done"] = plan.check_interval is None
                self._start(plan, "scheduled volume" if plan.check_interval is None
                            else f"every {plan.check_interval:g} s")
            elif plan.type is PlanType.TIME_BASED:
                self._next_fire[plan.key] = next_time_of_day(plan.times, now, self.tz)
                local = dt.datetime.fromtimestamp(due, self.tz).strftime("%H:%M:%S %Z")
                self._start(plan, f"time of day {local}")
            else:
                runs["last_check"] = now
                self._track(plan.key, self._check_moisture(plan, now))
            self._save()

    async def _check_moisture(self, plan: WateringPlan, now: float) -> None:
        moisture = (await self.host.fresh_readings()).get("moisture")
        if not isinstance(moisture, int | float) or isinstance(moisture, bool):
            _LOGGER.warning("plan %s: moisture is not readable; not watering", plan.key)
            return
        if moisture >= (plan.threshold_pct or 0):
            return
        last = self.runs[plan.key].get("last_run")
        if last is not None and now - last < plan.min_pause:
            _LOGGER.debug("plan %s: moisture low but pausing until %.0f", plan.key, last + plan.min_pause)
            return
        self.runs[plan.key]["last_run"] = time.time()
        self._save()
        await self.water(plan, f"moisture {moisture:.1f} % below {plan.threshold_pct:g} %")

    def _start(self, plan: WateringPlan, reason: str) -> None:
        self.runs[plan.key]["last_run"] = time.time()
        self._track(plan.key, self.water(plan, reason))

    def _track(self, key: str, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a plan's check or watering as a task; one at a time per plan."""
        task = asyncio.get_running_loop().create_task(coro)
        self._running[key] = task
        task.add_done_callback(lambda _t: self._running.pop(key, None))

    # --- one run -----------------------------------------------------------------------

    async def water(self, plan: WateringPlan, reason: str) -> dict[str, Reading]:
        """Water once for ``plan`` and report it; returns the report's data."""
        started = time.time()
        before = await self.host.fresh_readings()
        report: dict[str, Reading] = {
            "plan": plan.key, "plan_type": str(plan.type), "pump": plan.pump, "reason": reason,
            "start": round(started, 3), "requested_ml": plan.volume_ml, "duration": 0.0, "volume_ml": 0.0,
            "moisture_before": before.get("moisture"), "water_level_before": before.get("water_level"),
        }
        if "water_low" in before:
            report["water_low_before"] = before.get("water_low")
        try:
            outcome, message = await self._pump_volume(plan, before, report)
        except asyncio.CancelledError:
            outcome, message = WateringOutcome.FAILED, "the bridge stopped during the run"
            self._finish(report, before, outcome, message)
            raise
        if outcome is not WateringOutcome.SKIPPED_LOW_WATER and plan.settle_seconds:
            await asyncio.sleep(plan.settle_seconds)  # let water reach the moisture probe
        return self._finish(report, await self.host.fresh_readings(), outcome, message)

    async def _pump_volume(self, plan: WateringPlan, before: dict[str, Reading],
                           report: dict[str, Reading]) -> tuple[WateringOutcome, str]:
        if plan.pump not in self.host.pumps:
            return WateringOutcome.FAILED, f"no pump {plan.pump!r}"
        pump = self.host.pumps[plan.pump]
        if self.host.water_is_low(before):
            return WateringOutcome.SKIPPED_LOW_WATER, "reservoir water level is low; pump not started"
        if pump.is_on:
            return WateringOutcome.SKIPPED_BUSY, "the pump was already running"
        flow = pump.settings.flow_ml_per_min
        seconds = plan.volume_ml / flow * 60.0
        stopped = pump.stopped()
        granted, clipped = pump.start(seconds, reason=f"plan {plan.key}")
        report["clipped"] = clipped
        stop_reason, ran = await stopped
        report["duration"] = round(ran, 3)
        report["volume_ml"] = round(ran * flow / 60.0, 1)
        if stop_reason in _STOP_OK:
            message = f"clipped to the pump's max runtime {granted:g} s" if clipped else "done"
            return WateringOutcome.OK, message
        if stop_reason == "water_low":
            return WateringOutcome.STOPPED_SAFETY, "stopped: reservoir water level fell too low"
        return WateringOutcome.FAILED, f"pump stopped early ({stop_reason})"

    def _finish(self, report: dict[str, Reading], after: dict[str, Reading], outcome: WateringOutcome,
                message: str) -> dict[str, Reading]:
        report |= {"moisture_after": after.get("moisture"), "water_level_after": after.get("water_level"),
                   "outcome": str(outcome), "message": message}
        if "water_low" in after:
            report["water_low_after"] = after.get("water_low")
        runs = self.runs.setdefault(str(report["plan"]), {})
        runs["runs"] = int(runs.get("runs", 0)) + 1
        runs["last_outcome"] = str(outcome)
        self._save()
        _LOGGER.info("plan %s: %s, %.0f ml in %.1f s (%s)", report["plan"], outcome, report["volume_ml"],
                     report["duration"], message)
        self.host.emit(EventType.WATERING_REPORT, report)
        return report
