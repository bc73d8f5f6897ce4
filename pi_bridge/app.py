"""The bridge: one node's lifecycle. Sample the probes, keep pumps safe, run plans, answer commands.

Sampling, pump safety and plans run in their own tasks and never wait on the broker; the
MQTT connection is ``link.MqttLink`` and what each command does is ``commands``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
import contextlib
import ctypes
import dataclasses
from functools import partial
import gc
import logging
from pathlib import Path
import time

from hydro_fleet_protocol import (
    Ack,
    AckCode,
    Command,
    CommandAction,
    Event,
    EventType,
    HealthKey,
    NodeConfig,
    NodeKind,
    NodeSetting,
    PhotoReason,
    ProtocolError,
    PumpConfig,
    PumpState,
    Reading,
    State,
    Topic,
    encode,
    refusal_for,
)

from . import __version__
from .buffer import SampleQueue, queue_path
from .calibration import CalibrationStore
from .commands import CommandHandlers
from .health import Health
from .identity import machine_id
from .link import MqttLink
from .photos import PhotoService
from .plans import PlanRunner, plan_slots
from .pumps import PumpBank, PumpChange
from .sdnotify import Notifier
from .sensors import SensorArray, Snapshot
from .settings import BridgeConfig
from .water import WaterLowLatch

_LOGGER = logging.getLogger(__name__)


def release_startup_memory() -> None:
    """Hand the allocator's free pages back to the OS once start-up is over.

    Imports and pydantic's schema building leave a few MB of freed heap that glibc keeps
    mapped; on a Pi with 1 GB that is worth one call (measured: about -3 MB RSS).
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Bridge:
    """One node: its sensors, pumps, plans, offline queue and MQTT link."""

    def __init__(
        self,
        config: BridgeConfig,
        sensors: SensorArray,
        state_dir: Path,
        notifier: Notifier | None = None,
        *,
        throwaway_state: bool = False,
    ) -> None:
        self.config = config
        self.node_id = config.effective_node_id
        self.topics = Topic(config.prefix, self.node_id)
        self.sensors = sensors
        self.calibration: CalibrationStore = sensors.calibration
        self.state_dir = state_dir
        self.machine_id = machine_id(config.machine_id_source, state_dir)
        self.pumps = PumpBank(
            config.pumps, self._on_pump_change, state_dir, simulate=config.simulate, throwaway_state=throwaway_state
        )
        self.queue = SampleQueue(
            queue_path(state_dir),
            max_rows=config.buffer.max_rows,
            max_days=config.buffer.max_days,
            on_drop=self._buffer_dropped,
        )
        self.health = Health(state_dir, __version__)
        self.plans = PlanRunner(
            state_dir, self, plan_slots(config.pumps), config.tz, settle_seconds=config.plan_settle_seconds
        )
        self.notifier = notifier or Notifier()
        self.water_low = WaterLowLatch(config.water_low_pct)
        self.commands = CommandHandlers(self)
        # seq starts at the time in deciseconds, so it keeps increasing across restarts (queued samples
        # of an earlier run never share a seq with new ones) at any sampling rate up to 10 Hz.
        self._seq = int(time.time() * 10)
        self._last_snapshot: Snapshot | None = None
        self.last_sample: State | None = None
        self._last_sample_at = time.monotonic()
        self._read_lock = asyncio.Lock()
        # One worker thread for blocking I/O (probe conversions, backfill batches): one extra malloc
        # arena and stack, not one per pool thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hydro-fleet-io")
        self.link = MqttLink(self, config.broker, self.topics, self._worker, config.buffer.batch_size)
        self.photos: PhotoService | None = None
        if config.camera is not None:
            self.photos = PhotoService(self, config.camera, state_dir, self._worker, simulate=config.simulate)
            self.link.send_photo = partial(self.photos.send_one, topic=self.topics.photo)

    # --- what we publish -------------------------------------------------------

    def discovery(self) -> NodeConfig:
        return NodeConfig(
            node_id=self.node_id,
            kind=NodeKind.PI,
            name=self.config.name or self.node_id,
            model="Raspberry Pi (simulated)" if self.config.simulate else "Raspberry Pi",
            manufacturer="Hydro Fleet",
            sw_version=__version__,
            machine_id=self.machine_id,
            area=self.config.area,
            sample_interval=self.config.sample_interval,
            sensors=self.sensors.describe(),
            pumps=tuple(
                PumpConfig(key=p.key, name=p.name, max_runtime=p.max_runtime, flow_ml_per_min=p.flow_ml_per_min)
                for p in self.config.pumps
            ),
            plans=tuple(self.plans.slots.values()),
            extra={
                "timezone": self.config.timezone,
                NodeSetting.WATER_LOW_PCT: self.config.water_low_pct,
                "instance": self.link.instance,
            },
            cameras=self.photos.describe() if self.photos else (),
        )

    def discovery_payload(self) -> bytes:
        return encode(self.discovery())

    @property
    def water_low_pct(self) -> float:
        return self.config.water_low_pct

    def set_water_low_pct(self, limit: float) -> None:
        """The controller's threshold (set_config): decided again at once on the last sample."""
        self.config = dataclasses.replace(self.config, water_low_pct=limit)
        self.water_low.limit_pct = limit
        self._stop_pumps_if_dry(dict(self.last_readings()))

    def latch_water_low(self, readings: Mapping[str, Reading]) -> bool:
        """Feed readings to dry-run protection's latch (see WaterLowLatch); whether the water is low now."""
        return self.water_low.update(readings)

    def last_readings(self) -> Mapping[str, Reading]:
        """The latest sample's readings (at most one interval old), without reading a probe."""
        return self._last_snapshot.readings if self._last_snapshot else {}

    def wake_backfill(self) -> None:
        self.link.wake()

    async def take_photo(self, reason: PhotoReason) -> str | None:
        """A watering run's before/after photo (plans.py); None without a camera."""
        return await self.photos.take_for_watering(reason) if self.photos else None

    async def read_probes_and_stop_if_dry(self) -> Snapshot:
        """Read every probe now, then stop any running pump if the water is low (dry-run protection).

        The read runs in a worker thread: on a Pi each ADS1115 conversion blocks for ~8 ms
        (a median of 5 over 6 probes is a quarter of a second), and the event loop must stay
        free to fire pump deadlines on time.
        """
        async with self._read_lock:
            self.sensors.advance(self.pumps)
            snapshot = await asyncio.get_running_loop().run_in_executor(self._worker, self.sensors.read)
        self._last_snapshot = snapshot
        self._stop_pumps_if_dry(snapshot.readings)
        return snapshot

    async def fresh_readings(self) -> dict[str, Reading]:
        """Readings taken now, dry-run protection applied (plans use this for their before/after values)."""
        return dict((await self.read_probes_and_stop_if_dry()).readings)

    def _stop_pumps_if_dry(self, readings: dict[str, Reading]) -> None:
        if not self.latch_water_low(readings):
            return
        for pump in self.pumps:
            if pump.is_on:
                pump.stop("water_low")
                self.emit(
                    EventType.SAFETY_STOP,
                    {
                        "pump": pump.key,
                        "reason": "water_low",
                        "water_level": readings.get("water_level"),
                        "water_low": readings.get("water_low"),
                        "message": "reservoir water level is low; pump stopped to protect it from running dry",
                    },
                )

    async def sample(self) -> State:
        """A new state with the probes read now (and dry-run protection applied)."""
        state = self._state(await self.read_probes_and_stop_if_dry())
        self.last_sample = state
        self._last_sample_at = time.monotonic()  # the watchdog's sign of life
        return state

    def state_now(self) -> State:
        """A new state at once: pumps as they are now, readings of the latest sample.

        Pump changes and commands are reported with this, so HA sees them without waiting
        for a probe read.
        """
        return self._state(self._last_snapshot or Snapshot())

    def _state(self, snapshot: Snapshot) -> State:
        self._seq += 1
        readings = dict(snapshot.readings)
        health = self.health.collect(
            snapshot.status()
            | {
                HealthKey.BATTERY: readings.get("battery"),
                HealthKey.LAST_CALIBRATION: self.calibration.last_calibration,
                HealthKey.BUFFERED: len(self.queue),
            }
            | (self.photos.health() if self.photos else {})
        )
        state = State(
            ts=round(time.time(), 3),
            seq=self._seq,
            readings=readings,
            problems=dict(snapshot.problems),
            pumps={p.key: PumpState(on=p.is_on, until=p.until) for p in self.pumps},
            health=health,
            plans=self.plans.reported(),
            water_low=self.water_low.low,
        )
        return state

    def emit(self, event_type: str, data: dict[str, Reading]) -> None:
        """Publish an event now, or keep it in the queue's outbox until the broker is back."""
        self.link.send_event(Event(ts=round(time.time(), 3), type=str(event_type), data=data))

    # --- commands ------------------------------------------------------------

    async def handle_command(self, payload: bytes) -> None:
        """Parse and carry out a command; publish the resulting state, then the ack."""
        try:
            command = Command.parse(payload)
        except ProtocolError as err:
            refusal = refusal_for(payload, err)
            if refusal is None:
                _LOGGER.warning("ignored a malformed command with no id to answer: %s", err)
            else:
                # Answered, so the controller is told why at once instead of waiting out its timeout.
                _LOGGER.warning("refused malformed command %s: %s", refusal.id, err)
                await self.link.publish(self.topics.ack, encode(refusal))
            return
        try:
            ack = self.commands.execute(command)
        except Exception:
            # A bug in one command's handling must not take down pump safety with it.
            _LOGGER.exception("command %s (%s) failed", command.id, command.action)
            ack = Ack(command.id, ok=False, code=AckCode.INTERNAL_ERROR, message="the node could not carry this out")
        if ack.ok and command.action is CommandAction.SET_CONFIG:
            # The retained config announces the node's settings: the controller sees it took.
            await self.link.publish(self.topics.config, self.discovery_payload(), retain=True)
        if ack.ok:
            # The state first: when HA sees the ack, the state it shows already includes the change.
            await self.link.publish(self.topics.state, encode(self.state_now()))
        await self.link.publish(self.topics.ack, encode(ack))

    def _buffer_dropped(self, count: int) -> None:
        self.emit(
            EventType.BUFFER_DROPPED,
            {"dropped": count, "max_rows": self.config.buffer.max_rows, "max_days": self.config.buffer.max_days},
        )

    def _on_pump_change(self, change: PumpChange) -> None:
        self.emit(
            EventType.PUMP_STARTED if change.on else EventType.PUMP_STOPPED,
            {"pump": change.pump, "reason": change.reason, "duration": change.duration},
        )
        if not change.on:
            # A stop by deadline or safety is reported at once, not at the next sample.
            self.link.report(self.state_now())

    def stop_pumps_for_shutdown(self) -> State:
        """All pumps off for a clean exit; the state that says so."""
        self.pumps.all_off("shutdown")
        return self.state_now()

    # --- lifecycle -------------------------------------------------------------

    async def _sample_loop(self) -> None:
        interval = self.config.sample_interval
        next_at = time.monotonic()
        while True:
            self.link.deliver(await self.sample())
            next_at += interval
            now = time.monotonic()
            next_at = max(next_at, now)  # fell behind (a slow probe): skip, don't burst
            await asyncio.sleep(next_at - now)

    async def _watchdog_loop(self) -> None:
        """Ping systemd's watchdog while the sample loop is alive; a stalled bridge gets restarted."""
        interval = self.notifier.watchdog_interval()
        if interval is None:
            return
        stale_after = max(3 * self.config.sample_interval, 2 * interval) + 5
        while True:
            if time.monotonic() - self._last_sample_at < stale_after:
                self.notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def run(self) -> None:
        """Run until cancelled; pumps are off on every way out."""
        self.pumps.all_off("startup")
        await self.read_probes_and_stop_if_dry()  # commands and plans always have a reading to check
        self.notifier.notify("READY=1")
        trim = asyncio.get_running_loop().call_later(10.0, release_startup_memory)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._sample_loop())
                tasks.create_task(self.link.run())
                tasks.create_task(self.plans.run())
                tasks.create_task(self._watchdog_loop())
                if self.photos is not None:
                    tasks.create_task(self.photos.run())
        finally:
            trim.cancel()
            self.notifier.notify("STOPPING=1")
            self.pumps.close()
            await self.link.close()
            self._worker.shutdown(wait=True)
            self.sensors.close()
            self.queue.close()
            self.notifier.close()
