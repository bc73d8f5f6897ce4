"""Watering plans that run on the node, so plants are watered with HA or the broker down.

The node has one plan slot per pump (``NodeConfig.plans``); HA sets a slot's plan with
``set_plan`` (params: a protocol ``Plan``) and sees it in every ``State.plans``. Plans
are stored in ``<state_dir>/plans.json`` and checked twice a second. Each run waters a
volume through the pump's flow rate (never past the pump's max runtime) and reports
before/after moisture and water level, volume, duration, reason and outcome (and the ids of
the before/after photos on a node with a camera) as a
``watering_report`` event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
import datetime as dt
import logging
from pathlib import Path
import time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hydro_fleet_protocol import (
    AckCode,
    EventType,
    PhotoReason,
    Plan,
    PlanConfig,
    PlanType,
    ProtocolError,
    Reading,
    WateringOutcome,
)

from .pumps import PumpBank
from .settings import PumpSettings
from .store import read_json, write_json

_LOGGER = logging.getLogger(__name__)
TICK_SECONDS = 0.5
_STOP_OK = ("deadline", "max_runtime")


class PlanHost(Protocol):
    """What a plan needs from the bridge."""

    pumps: PumpBank

    async def fresh_readings(self) -> dict[str, Reading]: ...

    def latch_water_low(self, readings: dict[str, Reading]) -> bool: ...

    def emit(self, event_type: str, data: dict[str, Reading]) -> None: ...

    async def take_photo(self, reason: PhotoReason) -> str | None: ...


class PlanRejected(Exception):
    """A ``set_plan`` the node refuses: ``code`` and ``message`` go into the ack."""

    def __init__(self, code: AckCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def plan_slots(pumps: Iterable[PumpSettings]) -> tuple[PlanConfig, ...]:
    """One plan slot per pump: ``plan`` on a single-pump node, else ``<pump key>_plan``."""
    pumps = list(pumps)
    single = len(pumps) == 1
    slots = []
    for pump in pumps:
        # What the pump delivers in its max runtime: a larger volume would be clipped on every run.
        deliverable = round(pump.max_runtime * pump.flow_ml_per_min / 60.0, 1)
        max_volume = pump.max_plan_volume_ml or min(100_000.0, max(1.0, deliverable))
        slots.append(
            PlanConfig(
                key="plan" if single else f"{pump.key}_plan",
                pump=pump.key,
                name=None if single else f"{pump.name} plan",
                max_volume_ml=max_volume,
            )
        )
    return tuple(slots)


def next_time_of_day(times: tuple[str, ...], after: float, tz: ZoneInfo) -> float:
    """The first of ``times`` ("HH:MM", local wall clock in ``tz``) strictly after ``after`` (unix seconds)."""
    local = dt.datetime.fromtimestamp(after, tz)
    candidates = []
    for day in range(3):
        date = local.date() + dt.timedelta(days=day)
        for value in times:
            # Built from the wall clock (not midnight + seconds), so days with a DST change are right.
            clock = dt.time(int(value[:2]), int(value[3:5]))
            stamp = dt.datetime.combine(date, clock, tzinfo=tz).timestamp()
            if stamp > after:
                candidates.append(stamp)
        if candidates:
            return min(candidates)
    raise AssertionError("a time of day always occurs within three days")


OFF = Plan(type=PlanType.OFF)


def initial_plan(slot: PlanConfig) -> Plan:
    """What a slot runs until Home Assistant sets a plan: nothing, with default numbers to start from."""
    return OFF.with_defaults(slot.max_volume_ml)


class PlanRunner:
    """Holds each slot's plan, decides when it is due and runs it."""

    def __init__(
        self, state_dir: Path, host: PlanHost, slots: Iterable[PlanConfig], tz: ZoneInfo, settle_seconds: float = 30.0
    ) -> None:
        self.path = state_dir / "plans.json"
        self.host = host
        self.tz = tz
        self.settle_seconds = settle_seconds
        self.slots = {slot.key: slot for slot in slots}
        self.plans: dict[str, Plan] = {key: initial_plan(slot) for key, slot in self.slots.items()}
        # Per slot: set_at, last_run, last_check, runs, last_outcome; stored with the plans so a
        # restart neither waters twice nor forgets min_pause.
        self.runs: dict[str, dict[str, Any]] = {}
        self._next_fire: dict[str, float] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._load()

    def _load(self) -> None:
        data = read_json(self.path)
        if "plans" in data and "slots" not in data:
            # The first bridge release stored plans under free-form keys with other fields; they do
            # not map onto slots reliably, so they are dropped, and the file rewritten so this is said once.
            _LOGGER.warning(
                "ignoring %d plan(s) stored in the old plans.json format; set them again from Home Assistant",
                len(data.get("plans") or {}),
            )
            self._save()
            return
        for key, raw in (data.get("slots") or {}).items():
            if key not in self.slots:
                _LOGGER.warning("ignoring the stored plan of slot %s: this node has no such slot any more", key)
                continue
            try:
                plan = Plan.from_dict(raw, key)
                plan.check_runnable()
            except ProtocolError as err:
                _LOGGER.warning("ignoring the stored plan of slot %s: %s", key, err)
                continue
            self.plans[key] = plan
        runs = data.get("runs") or {}
        self.runs = {k: dict(v) for k, v in runs.items() if k in self.slots and isinstance(v, dict)}

    def _save(self) -> None:
        plans = {k: p.to_dict() for k, p in self.plans.items() if p != initial_plan(self.slots[k])}
        write_json(self.path, {"slots": plans, "runs": self.runs})

    def reported(self) -> dict[str, Plan]:
        """Every slot's current plan, for ``State.plans`` (``off`` when none)."""
        return dict(self.plans)

    # --- set_plan --------------------------------------------------------------------

    def set_plan(self, key: str | None, params: dict[str, Any]) -> Plan:
        """Validate and store a slot's plan; raises PlanRejected with the ack's code and message."""
        slot = self.slots.get(key or "")
        if slot is None:
            raise PlanRejected(
                AckCode.UNKNOWN_PLAN, f"this node has no plan slot {key!r} (slots: {', '.join(self.slots) or 'none'})"
            )
        try:
            plan = Plan.from_dict(params, "params")
            plan.check_runnable()
        except ProtocolError as err:
            raise PlanRejected(AckCode.INVALID_PLAN, str(err)) from None
        if plan.volume_ml is not None and plan.volume_ml > slot.max_volume_ml:
            raise PlanRejected(
                AckCode.VOLUME_TOO_LARGE,
                f"volume_ml {plan.volume_ml:g} is above this slot's max_volume_ml {slot.max_volume_ml:g}",
            )
        previous = self.plans[slot.key]
        runs = self.runs.setdefault(slot.key, {})
        if plan.type is PlanType.OFF:
            # Off clears the slot's schedule; last_run stays so min_pause holds if it is switched on again.
            kept: dict[str, Any] = {k: runs[k] for k in ("last_run", "runs", "last_outcome", "pending") if k in runs}
            runs.clear()
            runs.update(kept)
        elif plan.type is not previous.type:
            # A new kind of plan starts counting now; a changed field of the same plan keeps its rhythm.
            runs["set_at"] = time.time()
            runs.pop("last_check", None)
        self._next_fire.pop(slot.key, None)
        self.plans[slot.key] = plan
        self._save()
        _LOGGER.info("slot %s: plan set to %s", slot.key, plan.to_dict())
        return plan

    def next_run(self, key: str, plan: Plan, now: float) -> float | None:
        """When the slot's plan is next due (for moisture: its next check); None when off."""
        runs = self.runs.setdefault(key, {})
        if plan.type is PlanType.OFF:
            return None
        if plan.type is PlanType.TIME_BASED:
            if key not in self._next_fire:
                # From the later of now and the last run: times missed while the node was off are
                # skipped, and a restart right after a run does not water twice.
                self._next_fire[key] = next_time_of_day(plan.times, max(now, runs.get("last_run", 0.0)), self.tz)
            return self._next_fire[key]
        interval = plan.check_interval or 60.0
        if plan.type is PlanType.BASIC:
            # One interval after it was set, then one after each run (last_run is stored before the
            # pump starts, so a crash mid-run does not make the next start water again at once).
            since = max(runs.setdefault("set_at", now), runs.get("last_run", 0.0))
            return float(since) + interval
        return float(runs.get("last_check", 0.0)) + interval

    # --- scheduling --------------------------------------------------------------------

    async def run(self) -> None:
        """Check the plans every TICK_SECONDS until cancelled."""
        self.report_interrupted_runs()
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
        for key, plan in list(self.plans.items()):
            if key in self._running:
                continue
            due = self.next_run(key, plan, now)
            if due is None or now < due:
                continue
            runs = self.runs[key]
            if plan.type is PlanType.BASIC:
                self._start(key, plan, f"every {plan.check_interval:g} s")
            elif plan.type is PlanType.TIME_BASED:
                self._next_fire[key] = next_time_of_day(plan.times, now, self.tz)
                local = dt.datetime.fromtimestamp(due, self.tz).strftime("%H:%M %Z")
                self._start(key, plan, f"time of day {local}")
            else:
                runs["last_check"] = now
                self._track(key, self._check_moisture(key, plan, now))
            self._save()

    async def _check_moisture(self, key: str, plan: Plan, now: float) -> None:
        moisture = (await self.host.fresh_readings()).get("moisture")
        if not isinstance(moisture, int | float) or isinstance(moisture, bool):
            _LOGGER.warning("slot %s: moisture is not readable; not watering", key)
            return
        threshold = plan.threshold or 0.0
        if moisture >= threshold:
            return
        last = self.runs[key].get("last_run")
        pause = plan.min_pause or 0.0
        if last is not None and now - last < pause:
            _LOGGER.debug("slot %s: moisture low but pausing until %.0f", key, last + pause)
            return
        self.runs[key]["last_run"] = time.time()
        self._save()
        await self.water(key, plan, f"moisture {moisture:.1f} % below {threshold:g} %")

    def _start(self, key: str, plan: Plan, reason: str) -> None:
        self.runs[key]["last_run"] = time.time()  # saved by tick() before the task starts
        self._track(key, self.water(key, plan, reason))

    def _track(self, key: str, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a slot's check or watering as a task; one at a time per slot."""
        task = asyncio.get_running_loop().create_task(coro)
        self._running[key] = task
        task.add_done_callback(lambda _t: self._running.pop(key, None))

    # --- one run -----------------------------------------------------------------------

    async def water(self, key: str, plan: Plan, reason: str) -> dict[str, Reading]:
        """Water once for the slot's ``plan`` and report it; returns the report's data."""
        pump_key = self.slots[key].pump
        volume = plan.volume_ml or 0.0
        started = time.time()
        before = await self.host.fresh_readings()
        report: dict[str, Reading] = {
            "plan": key,
            "plan_type": str(plan.type),
            "pump": pump_key,
            "reason": reason,
            "start": round(started, 3),
            "requested_ml": volume,
            "duration": 0.0,
            "volume_ml": 0.0,
            "moisture_before": before.get("moisture"),
            "water_level_before": before.get("water_level"),
        }
        if "water_low" in before:
            report["water_low_before"] = before.get("water_low")
        if photo := await self.host.take_photo(PhotoReason.BEFORE_WATERING):
            report["photo_before"] = photo
        # Stored before the pump starts and again when it stops, so a bridge killed during the run or
        # the settle time still reports it after a restart, with what it knew (report_interrupted_runs).
        self._keep_pending(key, report)
        try:
            outcome, message = await self._pump_volume(key, pump_key, volume, before, report)
            report |= {"outcome": str(outcome), "message": message}
            self._keep_pending(key, report)
            if outcome is not WateringOutcome.SKIPPED_LOW_WATER and self.settle_seconds:
                await asyncio.sleep(self.settle_seconds)  # let water reach the moisture probe
            after = await self.host.fresh_readings()
        except asyncio.CancelledError:
            self._report_interrupted(report, "the bridge stopped")
            raise
        if report["duration"] and (photo := await self.host.take_photo(PhotoReason.AFTER_WATERING)):
            report["photo_after"] = photo
        return self._finish(report, after)

    def _keep_pending(self, key: str, report: dict[str, Reading]) -> None:
        self.runs.setdefault(key, {})["pending"] = dict(report)
        self._save()

    def report_interrupted_runs(self) -> None:
        """Report the runs a bridge killed mid-run (or in the settle time) left stored, once."""
        for runs in self.runs.values():
            pending = runs.get("pending")
            if isinstance(pending, dict) and isinstance(pending.get("plan"), str):
                self._report_interrupted(pending, "the bridge was restarted")
            else:
                runs.pop("pending", None)

    def _report_interrupted(self, report: dict[str, Reading], why: str) -> None:
        if "outcome" in report:
            report["message"] = f"{report['message']}; {why} before the readings after the run"
        else:
            # The pump guard stopped the pump when the bridge went; how long it ran is not known here.
            report |= {
                "duration": None,
                "volume_ml": None,
                "outcome": str(WateringOutcome.FAILED),
                "message": f"{why} while the pump ran",
            }
        self._finish(report, {})

    async def _pump_volume(
        self, key: str, pump_key: str, volume: float, before: dict[str, Reading], report: dict[str, Reading]
    ) -> tuple[WateringOutcome, str]:
        if pump_key not in self.host.pumps:
            return WateringOutcome.FAILED, f"no pump {pump_key!r}"
        pump = self.host.pumps[pump_key]
        if self.host.latch_water_low(before):
            return WateringOutcome.SKIPPED_LOW_WATER, "reservoir water level is low; pump not started"
        if pump.is_on:
            return WateringOutcome.SKIPPED_BUSY, "the pump was already running"
        flow = pump.settings.flow_ml_per_min
        seconds = volume / flow * 60.0
        stopped = pump.stopped()
        granted, clipped = pump.start(seconds, reason=f"plan {key}")
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

    def _finish(self, report: dict[str, Reading], after: dict[str, Reading]) -> dict[str, Reading]:
        report |= {"moisture_after": after.get("moisture"), "water_level_after": after.get("water_level")}
        if "water_low" in after:
            report["water_low_after"] = after.get("water_low")
        runs = self.runs.setdefault(str(report["plan"]), {})
        runs["runs"] = int(runs.get("runs", 0)) + 1
        runs["last_outcome"] = report["outcome"]
        runs.pop("pending", None)
        self._save()
        _LOGGER.info(
            "plan %s: %s, %s ml in %s s (%s)",
            report["plan"],
            report["outcome"],
            report["volume_ml"],
            report["duration"],
            report["message"],
        )
        self.host.emit(EventType.WATERING_REPORT, report)
        return report
