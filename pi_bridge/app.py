"""The bridge itself: sample probes, drive pumps, run plans, speak the protocol over MQTT.

Sampling, pump safety and plans run in their own tasks and never wait on the broker.
A sample the broker has not acknowledged goes to the on-disk queue and is backfilled
after a reconnect; reconnects use exponential backoff with jitter and republish
discovery and availability each time they get through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
import contextlib
import ctypes
import gc
import logging
from pathlib import Path
import random
import ssl
import time
from typing import Any

import aiomqtt

from hydro_fleet_protocol import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    Ack,
    Backfill,
    Command,
    CommandAction,
    Event,
    EventType,
    NodeConfig,
    NodeKind,
    PhotoReason,
    ProtocolError,
    PumpConfig,
    PumpState,
    Reading,
    Sample,
    State,
    Topic,
    encode,
)

from . import __version__
from .buffer import SampleQueue, queue_path
from .calibration import CalibrationStore
from .config import BridgeConfig
from .health import Health
from .identity import IdentityCheck, machine_id
from .photos import PhotoService
from .plans import PlanRejected, PlanRunner, plan_slots
from .probes import CalibrationError
from .pumps import PumpBank, PumpChange
from .sdnotify import Notifier
from .sensors import SensorArray, Snapshot

_LOGGER = logging.getLogger(__name__)
_BACKOFF_MAX = 60.0
_LIVE_PUBLISH_TIMEOUT = 5.0
_BACKFILL_TIMEOUT = 30.0
_DUPLICATE_RECHECK = 30.0
WATER_LOW_HYSTERESIS = 2.0  # percentage points


def release_startup_memory() -> None:
    """Hand the allocator's free pages back to the OS once start-up is over.

    Imports and pydantic's schema building leave a few MB of freed heap that glibc keeps
    mapped; on a Pi with 1 GB that is worth one call (measured: about -3 MB RSS).
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Bridge:
    """One node: its sensors, pumps, plans, offline queue and MQTT connection."""

    def __init__(
        self, config: BridgeConfig, sensors: SensorArray, state_dir: Path, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.node_id = config.effective_node_id
        self.topics = Topic(config.prefix, self.node_id)
        self.sensors = sensors
        self.calibration: CalibrationStore = sensors.calibration
        self.state_dir = state_dir
        self.machine_id = machine_id(config.machine_id_source, state_dir)
        self.pumps = PumpBank(config.pumps, self._on_pump_change)
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
        self._client: aiomqtt.Client | None = None
        # seq starts at the time in deciseconds, so it keeps increasing across restarts (queued samples
        # of an earlier run never share a seq with new ones) at any sampling rate up to 10 Hz.
        self._seq = int(time.time() * 10)
        self._last_snapshot: Snapshot | None = None
        self._last_state: State | None = None
        self._last_sample_at = time.monotonic()
        self._background: set[asyncio.Task[Any]] = set()
        self._live: set[asyncio.Task[Any]] = set()
        # Published but not yet acknowledged; whatever is left here when that ends goes to the queue.
        self._unsent: dict[int, State] = {}
        self._unsent_events: dict[int, tuple[str, bytes]] = {}
        self._queued = asyncio.Event()
        self.duplicate_of: str | None = None
        self._water_low_latched = False
        self._read_lock = asyncio.Lock()
        # One worker thread for blocking I/O (probe conversions, backfill batches): one extra malloc
        # arena and stack, not one per pool thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hydro-fleet-io")
        self.photos = (
            PhotoService(self, config.camera, state_dir, self._worker, simulate=config.simulate)
            if config.camera is not None
            else None
        )

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
            extra={"timezone": self.config.timezone, "water_low_pct": self.config.water_low_pct},
            cameras=self.photos.describe() if self.photos else (),
        )

    def water_is_low(self, readings: dict[str, Reading]) -> bool:
        """Dry-run protection's test: the analog level under the limit, or the float switch low.

        Once tripped it stays tripped until the level is WATER_LOW_HYSTERESIS above the limit, so
        a level hovering at the mark (sloshing, ADC noise) cannot chatter the relay on and off.
        """
        if readings.get("water_low") is True:
            return True
        level = readings.get("water_level")
        if not isinstance(level, int | float) or isinstance(level, bool):
            return False
        limit = self.config.water_low_pct
        if self._water_low_latched:
            self._water_low_latched = level < limit + WATER_LOW_HYSTERESIS
        else:
            self._water_low_latched = level < limit
        return self._water_low_latched

    async def read_probes(self) -> Snapshot:
        """Read every probe now, and enforce dry-run protection on the result.

        The read runs in a worker thread: on a Pi each ADS1115 conversion blocks for ~8 ms
        (a median of 5 over 6 probes is a quarter of a second), and the event loop must stay
        free to fire pump deadlines on time.
        """
        async with self._read_lock:
            self.sensors.advance(self.pumps)
            snapshot = await asyncio.get_running_loop().run_in_executor(self._worker, self.sensors.read)
        self._last_snapshot = snapshot
        self._enforce_dry_run(snapshot.readings)
        return snapshot

    async def fresh_readings(self) -> dict[str, Reading]:
        """Readings taken now (plans use this for their before/after values)."""
        return dict((await self.read_probes()).readings)

    def _enforce_dry_run(self, readings: dict[str, Reading]) -> None:
        if not self.water_is_low(readings):
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

    def latest_reading(self, key: str) -> Reading:
        return self._last_snapshot.readings.get(key) if self._last_snapshot else None

    def wake_backfill(self) -> None:
        self._queued.set()

    async def take_photo(self, reason: PhotoReason) -> str | None:
        """A watering run's before/after photo (plans.py); None without a camera."""
        return await self.photos.take_for_watering(reason) if self.photos else None

    async def sample(self) -> State:
        """A new state with the probes read now."""
        state = self._state(await self.read_probes())
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
                "battery": readings.get("battery"),
                "last_calibration": self.calibration.last_calibration,
                "buffered": len(self.queue),
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
        )
        self._last_state = state
        return state

    def emit(self, event_type: str, data: dict[str, Reading]) -> None:
        """Publish an event now, or keep it in the queue's outbox until the broker is back."""
        event = Event(ts=round(time.time(), 3), type=str(event_type), data=data)
        payload = encode(event)
        if self._connected:
            self._spawn(self._publish_or_keep(self.topics.event, payload))
        else:
            self.queue.put_message(self.topics.event, payload)
            self._queued.set()

    # --- MQTT ----------------------------------------------------------------

    @property
    def _connected(self) -> bool:
        return self._client is not None and self.duplicate_of is None

    async def _publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> bool:
        client = self._client if self.duplicate_of is None else None
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=1, retain=retain, timeout=_LIVE_PUBLISH_TIMEOUT)
        except (aiomqtt.MqttError, TimeoutError) as err:
            _LOGGER.warning("could not publish to %s: %s", topic, err)
            return False
        return True

    async def _publish_or_keep(self, topic: str, payload: bytes) -> None:
        key = id(payload)
        self._unsent_events[key] = (topic, payload)
        if await self._publish(topic, payload):
            self._unsent_events.pop(key, None)
        else:
            self._keep_event(key)

    def _keep_event(self, key: int) -> None:
        message = self._unsent_events.pop(key, None)
        if message is not None:
            self.queue.put_message(*message)
            self._queued.set()

    def _deliver(self, state: State) -> None:
        """Publish a sample live, or queue it (broker down, or it did not acknowledge)."""
        if not self._connected:
            self._enqueue(state)
            return
        # Registered before the task exists: a task cancelled before its first step never runs its
        # own cleanup, so the sample's fate must not depend on it.
        self._unsent[state.seq] = state
        task = asyncio.get_running_loop().create_task(self._publish_live(state))
        self._live.add(task)
        task.add_done_callback(self._live.discard)

    async def _publish_live(self, state: State) -> None:
        if await self._publish(self.topics.state, encode(state)):
            self._unsent.pop(state.seq, None)
        else:
            self._keep_unsent(state.seq)

    def _keep_unsent(self, seq: int) -> None:
        state = self._unsent.pop(seq, None)
        if state is not None:
            self._enqueue(state)

    def _enqueue(self, state: State) -> None:
        self.queue.put(Sample(ts=state.ts, seq=state.seq, readings=state.readings))
        self._queued.set()

    def _client_options(self, *, will: bool = True, suffix: str = "") -> dict[str, Any]:
        broker = self.config.broker
        options: dict[str, Any] = {
            "hostname": broker.host,
            "port": broker.port,
            # The machine id in the client id keeps a duplicate node from kicking the original off.
            "identifier": f"hydro-fleet-{self.node_id}-{self.machine_id[:8]}{suffix}",
            "keepalive": broker.keepalive,
            "timeout": 10,
        }
        if will:
            options["will"] = aiomqtt.Will(self.topics.availability, AVAILABILITY_OFFLINE, qos=1, retain=True)
        if broker.username:
            options["username"] = broker.username
            options["password"] = broker.password.get_secret_value() if broker.password else None
        if broker.tls:
            context = ssl.create_default_context(cafile=str(broker.ca_file) if broker.ca_file else None)
            if broker.cert_file:
                context.load_cert_chain(str(broker.cert_file), str(broker.key_file) if broker.key_file else None)
            if broker.tls_insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            options["tls_context"] = context
        return options

    async def _check_identity(self) -> bool:
        """True if no other machine is using our node id right now (reported if one is)."""
        check = IdentityCheck(self.topics, self.machine_id)
        other = await check.run(self._client_options(will=False, suffix="-id"))
        if other is None:
            if self.duplicate_of is not None:
                _LOGGER.info("node id %s is free again; resuming", self.node_id)
            self.duplicate_of = None
            return True
        if self.duplicate_of != other:
            _LOGGER.error(
                "node id %s is already used by machine %s (this is %s); not publishing. "
                "Give this Pi another hostname or node_id.",
                self.node_id,
                other,
                self.machine_id,
            )
        self.duplicate_of = other
        return False

    async def _report_duplicate(self, client: aiomqtt.Client) -> None:
        event = Event(
            ts=round(time.time(), 3),
            type=str(EventType.DUPLICATE_NODE),
            data={
                "node_id": self.node_id,
                "machine_id": self.machine_id,
                "other_machine_id": self.duplicate_of,
                "message": "another machine publishes as this node id; this one stays silent",
            },
        )
        await client.publish(self.topics.event, encode(event), qos=1, timeout=_LIVE_PUBLISH_TIMEOUT)

    async def _mqtt_loop(self) -> None:
        backoff = 1.0
        while True:
            try:
                unique = await self._check_identity()
                async with aiomqtt.Client(**self._client_options(will=unique)) as client:
                    backoff = 1.0
                    if not unique:
                        await self._report_duplicate(client)
                        await asyncio.sleep(_DUPLICATE_RECHECK)
                        continue
                    _LOGGER.info(
                        "connected to %s:%s as %s", self.config.broker.host, self.config.broker.port, self.node_id
                    )
                    await client.subscribe(self.topics.cmd, qos=1)
                    await client.publish(self.topics.config, encode(self.discovery()), qos=1, retain=True)
                    await client.publish(self.topics.availability, AVAILABILITY_ONLINE, qos=1, retain=True)
                    self._client = client
                    if self._last_state is not None:
                        await self._publish(self.topics.state, encode(self._last_state))
                    drain = asyncio.get_running_loop().create_task(self._drain(client))
                    try:
                        async for message in client.messages:
                            await self._handle_command(message.payload)
                    except asyncio.CancelledError:
                        await self._say_goodbye(client)
                        raise
                    finally:
                        self._client = None
                        drain.cancel()
                        await asyncio.gather(drain, return_exceptions=True)
                        self._abandon_live()
            except (aiomqtt.MqttError, ssl.SSLError, OSError) as err:
                # OSError: a TLS file that vanished or became unreadable since start-up.
                self._client = None
                self._abandon_live()
                delay = backoff * random.uniform(0.5, 1.5)
                _LOGGER.warning("broker unreachable (%s); retrying in %.1f s", err, delay)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                self._client = None

    def _abandon_live(self) -> None:
        """The connection is gone: unacknowledged live samples go to the queue now, in order."""
        for task in list(self._live):
            task.cancel()
        for seq in sorted(self._unsent):
            self._keep_unsent(seq)

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Backfill the queue oldest first, in batches, deleting only what the broker acknowledged.

        Runs beside live publishing: a batch waits for its own PUBACK, live samples do not wait for it.
        """
        batch_size = self.config.buffer.batch_size
        while True:
            try:
                await self._drain_once(client, batch_size)
            except (aiomqtt.MqttError, TimeoutError) as err:
                # Nothing was deleted; the batch is sent again. A dropped connection ends this task anyway.
                _LOGGER.warning("backfill paused: %s", err)
                await asyncio.sleep(1.0)

    async def _drain_once(self, client: aiomqtt.Client, batch_size: int) -> None:
        """Send what is queued, then wait until something new is queued."""
        while True:
            self._queued.clear()
            for message_id, topic, payload in self.queue.messages():
                await client.publish(topic, payload, qos=1, timeout=_BACKFILL_TIMEOUT)
                self.queue.delete_message(message_id)
            # Reading and encoding a batch takes milliseconds; a worker thread keeps live samples moving.
            batch_ids, batch = await asyncio.get_running_loop().run_in_executor(
                self._worker, self._next_batch, batch_size
            )
            if batch_ids:
                if batch is not None:
                    await client.publish(self.topics.backfill, batch, qos=1, timeout=_BACKFILL_TIMEOUT)
                self.queue.delete(batch_ids)
                _LOGGER.debug("backfilled %d samples, %d left", len(batch_ids), len(self.queue))
                continue
            # Photos after the readings' backlog, one at a time, so a new sample never waits behind them.
            if self.photos is not None and await self.photos.send_one(client, self.topics.photo):
                continue
            await self._queued.wait()

    def _next_batch(self, size: int) -> tuple[list[int], bytes | None]:
        ids, samples = self.queue.peek(size)
        return ids, encode(Backfill(samples=tuple(samples))) if samples else None

    async def _sample_loop(self) -> None:
        interval = self.config.sample_interval
        next_at = time.monotonic()
        while True:
            self._deliver(await self.sample())
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

    # --- commands ------------------------------------------------------------

    async def _handle_command(self, payload: bytes) -> None:
        try:
            command = Command.parse(payload)
        except ProtocolError as err:
            _LOGGER.warning("ignored a malformed command: %s", err)
            return
        try:
            ack = self.execute(command)
        except Exception:
            # A bug in one command's handling must not take down pump safety with it.
            _LOGGER.exception("command %s (%s) failed", command.id, command.action)
            ack = Ack(command.id, ok=False, code="internal_error", message="the node could not carry this out")
        if ack.ok:
            # The state first: when HA sees the ack, the state it shows already includes the change.
            await self._publish(self.topics.state, encode(self.state_now()))
        await self._publish(self.topics.ack, encode(ack))

    def execute(self, command: Command) -> Ack:
        """Carry out ``command`` and say how it went."""
        handler: Callable[[Command], Ack] | None = {
            CommandAction.PUMP_ON: self._pump_on,
            CommandAction.PUMP_OFF: self._pump_off,
            CommandAction.SET_PLAN: self._set_plan,
            CommandAction.CALIBRATE: self._calibrate,
            CommandAction.IDENTIFY: self._identify,
        }.get(command.action)
        if handler is None:
            return Ack(
                command.id, ok=False, code="unsupported", message=f"{command.action} is not supported by this node"
            )
        return handler(command)

    def _pump_for(self, command: Command) -> str | Ack:
        if command.target not in self.pumps:
            return Ack(command.id, ok=False, code="unknown_pump", message=f"this node has no pump {command.target!r}")
        return command.target  # type: ignore[return-value]

    def _pump_on(self, command: Command) -> Ack:
        key = self._pump_for(command)
        if isinstance(key, Ack):
            return key
        duration = command.params.get("duration")
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration < 86400 * 365
        ):
            return Ack(
                command.id, ok=False, code="invalid_duration", message="duration must be a positive number of seconds"
            )
        # The latest sample (at most one interval old); the sample loop also stops a pump that runs low.
        readings = self._last_snapshot.readings if self._last_snapshot else {}
        if self.water_is_low(readings):
            level = readings.get("water_level")
            what = f"water level {level:.0f} %" if isinstance(level, int | float) else "float switch says low"
            self.emit(
                EventType.SAFETY_STOP,
                {"pump": key, "reason": "water_low", "water_level": level, "message": f"{what}; pump not started"},
            )
            return Ack(
                command.id,
                ok=False,
                code="water_low",
                message=f"{what} (limit {self.config.water_low_pct:g} %); pump not started to protect it",
            )
        granted, clipped = self.pumps[key].start(duration, reason="command")
        result: dict[str, Any] = {"duration": granted, "clipped": clipped}
        message = None
        if clipped:
            result["requested"] = duration
            message = f"clipped from {duration:g} s to the pump's max runtime {granted:g} s"
        return Ack(command.id, ok=True, message=message, result=result)

    def _pump_off(self, command: Command) -> Ack:
        key = self._pump_for(command)
        if isinstance(key, Ack):
            return key
        self.pumps[key].stop("command")
        return Ack(command.id, ok=True)

    def _set_plan(self, command: Command) -> Ack:
        try:
            plan = self.plans.set_plan(command.target, command.params)
        except PlanRejected as err:
            _LOGGER.warning("set_plan %s refused: %s", command.target, err.message)
            return Ack(command.id, ok=False, code=err.code, message=err.message)
        # The state published before this ack carries the plan too (State.plans).
        return Ack(command.id, ok=True, result={"plan": plan.to_dict()})

    def _calibrate(self, command: Command) -> Ack:
        probe = command.target or ""
        data: dict[str, Reading] = {"probe": probe}
        if probe not in self.sensors.calibratable:
            message = (
                f"probe {probe!r} is not fitted or cannot be calibrated "
                f"(this node: {', '.join(self.sensors.calibratable)})"
            )
            return Ack(command.id, ok=False, code="unknown_probe", message=message)
        try:
            volts = self.sensors.volts(probe)
            # The latest sample's temperature: reading a DS18B20 again would block the loop ~750 ms.
            last = self._last_snapshot.readings.get("water_temperature") if self._last_snapshot else None
            temperature = float(last) if isinstance(last, int | float) else self.sensors.temperature_or_default()
            result = self.calibration.calibrate(probe, command.params, volts, temperature)
        except CalibrationError as err:
            _LOGGER.warning("calibration of %s rejected: %s", probe, err)
            self.emit(EventType.CALIBRATION, data | {"ok": False, "message": str(err)})
            return Ack(command.id, ok=False, code="calibration_rejected", message=str(err))
        except Exception as err:  # a probe fault while measuring is the user's to fix, not a crash
            _LOGGER.warning("calibration of %s failed: %s", probe, err)
            self.emit(EventType.CALIBRATION, data | {"ok": False, "message": f"probe unreadable: {err}"})
            return Ack(command.id, ok=False, code="probe_unavailable", message=f"probe unreadable: {err}")
        _LOGGER.info("calibrated %s: %s", probe, result)
        self.emit(EventType.CALIBRATION, data | {"ok": True} | result)
        return Ack(command.id, ok=True, result=result)

    def _identify(self, command: Command) -> Ack:
        _LOGGER.info("identify requested")
        return Ack(command.id, ok=True)

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
            self._deliver(self.state_now())

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- lifecycle -------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; pumps are off on every way out."""
        self.pumps.all_off("startup")
        await self.read_probes()  # commands and plans always have a reading to check
        self.notifier.notify("READY=1")
        trim = asyncio.get_running_loop().call_later(10.0, release_startup_memory)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._sample_loop())
                tasks.create_task(self._mqtt_loop())
                tasks.create_task(self.plans.run())
                tasks.create_task(self._watchdog_loop())
                if self.photos is not None:
                    tasks.create_task(self.photos.run())
        finally:
            trim.cancel()
            self.notifier.notify("STOPPING=1")
            self.pumps.close()
            for task in list(self._background) + list(self._live):
                task.cancel()
            await asyncio.gather(*self._background, *self._live, return_exceptions=True)
            for seq in sorted(self._unsent):  # samples and events whose publish never finished
                self._keep_unsent(seq)
            for key in list(self._unsent_events):
                self._keep_event(key)
            self._worker.shutdown(wait=True)
            self.sensors.close()
            self.queue.close()
            self.notifier.close()

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean exit: pumps off, that reported, then offline (the last will covers unclean exits)."""
        self._client = None
        self.pumps.all_off("shutdown")
        try:
            async with asyncio.timeout(2):
                await client.publish(self.topics.state, encode(self.state_now()), qos=1)
                await client.publish(self.topics.availability, AVAILABILITY_OFFLINE, qos=1, retain=True)
        except (aiomqtt.MqttError, TimeoutError):
            _LOGGER.warning("could not announce going offline; the broker's last will will")
