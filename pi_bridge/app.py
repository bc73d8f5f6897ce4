"""The bridge itself: sample probes, drive pumps, speak the protocol over MQTT.

Sampling and pump safety run in their own tasks and never wait on the broker; the MQTT
task reconnects with exponential backoff and jitter and republishes discovery and
availability each time it gets through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import logging
import random
import ssl
import time
from typing import Any

import aiomqtt

from hydro_fleet_protocol import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    Ack,
    Command,
    CommandAction,
    Event,
    NodeConfig,
    NodeKind,
    ProtocolError,
    PumpConfig,
    PumpState,
    State,
    Topic,
    encode,
)

from . import __version__
from .config import BridgeConfig
from .pumps import PumpBank, PumpChange
from .sensors import SensorArray

_LOGGER = logging.getLogger(__name__)
_BACKOFF_MAX = 60.0
# Below this the pump would run dry; the node refuses to start it and stops it if running.
WATER_LOW_PCT = 5.0


class Bridge:
    """One node: its sensors, its pumps and its MQTT connection."""

    def __init__(self, config: BridgeConfig, sensors: SensorArray) -> None:
        self.config = config
        self.node_id = config.effective_node_id
        self.topics = Topic(config.prefix, self.node_id)
        self.sensors = sensors
        self.pumps = PumpBank(config.pumps, self._on_pump_change)
        self._client: aiomqtt.Client | None = None
        self._seq = 0
        self._started = time.monotonic()
        self._last_state: State | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # --- what we publish -------------------------------------------------------

    def discovery(self) -> NodeConfig:
        return NodeConfig(
            node_id=self.node_id,
            kind=NodeKind.PI,
            name=self.config.name or self.node_id,
            model="Raspberry Pi (simulated)" if self.config.simulate else "Raspberry Pi",
            manufacturer="Hydro Fleet",
            sw_version=__version__,
            sample_interval=self.config.sample_interval,
            sensors=self.sensors.describe(),
            pumps=tuple(
                PumpConfig(key=p.key, name=p.name, max_runtime=p.max_runtime, flow_ml_per_min=p.flow_ml_per_min)
                for p in self.config.pumps
            ),
        )

    def sample(self) -> State:
        """Read every probe now, and enforce dry-run protection on the result."""
        self.sensors.advance(self.pumps)
        readings, problems = self.sensors.read()
        level = readings.get("water_level")
        if isinstance(level, float) and level < WATER_LOW_PCT:
            for pump in self.pumps:
                if pump.is_on:
                    pump.stop("water_low")
        self._seq += 1
        state = State(
            ts=round(time.time(), 3),
            seq=self._seq,
            readings=readings,
            problems=problems,
            pumps={p.key: PumpState(on=p.is_on, until=p.until) for p in self.pumps},
            health={"uptime": round(time.monotonic() - self._started)},
        )
        self._last_state = state
        return state

    # --- MQTT ----------------------------------------------------------------

    async def _publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as err:
            _LOGGER.warning("could not publish to %s: %s", topic, err)
            return False
        return True

    def _client_options(self) -> dict[str, object]:
        broker = self.config.broker
        options: dict[str, object] = {
            "hostname": broker.host,
            "port": broker.port,
            "identifier": f"hydro-fleet-{self.node_id}",
            "keepalive": broker.keepalive,
            "will": aiomqtt.Will(self.topics.availability, AVAILABILITY_OFFLINE, qos=1, retain=True),
        }
        if broker.username:
            options["username"] = broker.username
            options["password"] = broker.password.get_secret_value() if broker.password else None
        if broker.tls:
            context = ssl.create_default_context(cafile=broker.ca_file)
            if broker.cert_file:
                context.load_cert_chain(broker.cert_file, broker.key_file)
            options["tls_context"] = context
        return options

    async def _mqtt_loop(self) -> None:
        backoff = 1.0
        while True:
            try:
                async with aiomqtt.Client(**self._client_options()) as client:  # type: ignore[arg-type]
                    _LOGGER.info("connected to %s:%s as %s", self.config.broker.host, self.config.broker.port,
                                 self.node_id)
                    backoff = 1.0
                    await client.subscribe(self.topics.cmd, qos=1)
                    await client.publish(self.topics.config, encode(self.discovery()), qos=1, retain=True)
                    await client.publish(self.topics.availability, AVAILABILITY_ONLINE, qos=1, retain=True)
                    self._client = client
                    if self._last_state is not None:
                        await self._publish(self.topics.state, encode(self._last_state))
                    try:
                        async for message in client.messages:
                            await self._handle_command(message.payload)  # type: ignore[arg-type]
                    except asyncio.CancelledError:
                        await self._say_goodbye(client)
                        raise
            except aiomqtt.MqttError as err:
                self._client = None
                delay = backoff * random.uniform(0.5, 1.5)
                _LOGGER.warning("broker unreachable (%s); retrying in %.1f s", err, delay)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                self._client = None

    async def _sample_loop(self) -> None:
        interval = self.config.sample_interval
        next_at = time.monotonic()
        while True:
            await self._publish(self.topics.state, encode(self.sample()))
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    # --- commands ------------------------------------------------------------

    async def _handle_command(self, payload: bytes) -> None:
        try:
            command = Command.parse(payload)
        except ProtocolError as err:
            _LOGGER.warning("ignored a malformed command: %s", err)
            return
        ack = self.execute(command)
        await self._publish(self.topics.ack, encode(ack))
        if ack.ok:
            await self._publish(self.topics.state, encode(self.sample()))

    def execute(self, command: Command) -> Ack:
        """Carry out ``command`` and say how it went."""
        handler: Callable[[Command], Ack] | None = {
            CommandAction.PUMP_ON: self._pump_on,
            CommandAction.PUMP_OFF: self._pump_off,
            CommandAction.IDENTIFY: self._identify,
        }.get(command.action)
        if handler is None:
            return Ack(command.id, ok=False, code="unsupported",
                       message=f"{command.action} is not supported by this node")
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
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int | float)
                                     or not 0 < duration < 86400 * 365):
            return Ack(command.id, ok=False, code="invalid_duration",
                       message="duration must be a positive number of seconds")
        level = self._last_state.readings.get("water_level") if self._last_state else None
        if isinstance(level, float) and level < WATER_LOW_PCT:
            return Ack(command.id, ok=False, code="water_low",
                       message=f"water level {level:.0f} % is below {WATER_LOW_PCT:.0f} %; pump not started")
        granted, clipped = self.pumps[key].start(duration, reason="command")
        return Ack(command.id, ok=True, result={"duration": granted, "clipped": clipped})

    def _pump_off(self, command: Command) -> Ack:
        key = self._pump_for(command)
        if isinstance(key, Ack):
            return key
        self.pumps[key].stop("command")
        return Ack(command.id, ok=True)

    def _identify(self, command: Command) -> Ack:
        _LOGGER.info("identify requested")
        return Ack(command.id, ok=True)

    def _on_pump_change(self, change: PumpChange) -> None:
        event = Event(
            ts=round(time.time(), 3),
            type="pump_started" if change.on else "pump_stopped",
            data={"pump": change.pump, "reason": change.reason, "duration": change.duration},
        )
        self._spawn(self._publish(self.topics.event, encode(event)))
        if not change.on:
            # A stop by deadline or safety is reported at once, not at the next sample.
            self._spawn(self._publish(self.topics.state, encode(self.sample())))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- lifecycle -------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; pumps are off on every way out."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._sample_loop())
                tasks.create_task(self._mqtt_loop())
        finally:
            self.pumps.close()

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean exit: pumps off, that reported, then offline (the last will covers unclean exits)."""
        self._client = None
        self.pumps.all_off("shutdown")
        try:
            async with asyncio.timeout(2):
                await client.publish(self.topics.state, encode(self.sample()), qos=1)
                await client.publish(self.topics.availability, AVAILABILITY_OFFLINE, qos=1, retain=True)
        except (aiomqtt.MqttError, TimeoutError):
            _LOGGER.warning("could not announce going offline; the broker's last will will")
