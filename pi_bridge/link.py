"""The node's MQTT link: client options, identity check, reconnects, backfill drain, publishing.

Sampling, pump safety and plans never wait on the broker: a sample is handed to
``deliver`` and an event to ``send_event``, and whatever the broker has not
acknowledged goes to the on-disk queue, to be backfilled after a reconnect. Reconnects
use exponential backoff with jitter and follow the connect sequence each time they get
through: last will offline, retained config, online, the latest state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
import logging
import random
import secrets
import ssl
import time
from typing import Any, Protocol

import aiomqtt

from hydro_fleet_protocol import (
    Backfill,
    Event,
    Sample,
    State,
    Topic,
    connect_sequence,
    encode,
    last_will,
)

from .buffer import SampleQueue
from .identity import IdentityCheck, duplicate_event
from .settings import BrokerSettings

_LOGGER = logging.getLogger(__name__)
_BACKOFF_MAX = 60.0
# With several broker members, a failed round waits at most this long: a cluster member's
# death refuses subscriptions for 10-20 s while the others re-elect, and the node must be
# back within seconds of that, not after a minute's backoff.
_CLUSTER_BACKOFF_MAX = 5.0
_LIVE_PUBLISH_TIMEOUT = 5.0
_BACKFILL_TIMEOUT = 30.0


class LinkHost(Protocol):
    """What the link needs from the bridge."""

    node_id: str
    machine_id: str
    queue: SampleQueue
    last_sample: State | None

    def discovery_payload(self) -> bytes: ...

    async def handle_command(self, payload: bytes) -> None: ...

    def stop_pumps_for_shutdown(self) -> State: ...


class MqttLink:
    """One node's connection to the broker, kept up until cancelled."""

    def __init__(
        self, host: LinkHost, broker: BrokerSettings, topics: Topic, worker: Executor, batch_size: int
    ) -> None:
        self.host = host
        self.broker = broker
        self.topics = topics
        self._worker = worker
        self._batch_size = batch_size
        self._client: aiomqtt.Client | None = None
        self.instance = secrets.token_hex(4)  # this process, in the config: see IdentityCheck
        self._held_for: float | None = None  # how long the last connection as the node lasted
        self.duplicate_of: str | None = None
        # Silent because a bridge with our machine id too (a cloned card) holds the connection.
        self._clone_yielded = False
        # Samples after this seq were not taken as the node id's owner (None: not yet owner in this run).
        self._owned_through: int | None = None
        self._first_seq: int | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._live: set[asyncio.Task[Any]] = set()
        # Published but not yet acknowledged; whatever is left here when that ends goes to the queue.
        self._unsent: dict[int, State] = {}
        self._unsent_events: dict[int, tuple[str, bytes]] = {}
        self._queued = asyncio.Event()
        self._member = 0  # index into broker.addresses of the member to try next
        # Sends the oldest buffered photo, False when none is (photos.py); None without a camera.
        self.send_photo: Callable[[aiomqtt.Client], Awaitable[bool]] | None = None

    def wake(self) -> None:
        """Something new is queued for the backfill task (a photo, say)."""
        self._queued.set()

    @property
    def member(self) -> tuple[str, int]:
        """The broker member in use (or tried next)."""
        addresses = self.broker.addresses
        return addresses[self._member % len(addresses)]

    @property
    def connected(self) -> bool:
        return self._client is not None and self.duplicate_of is None

    # --- publishing ------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> bool:
        """Publish now if connected; False (logged) if not connected or not acknowledged in time."""
        client = self._client if self.duplicate_of is None else None
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=1, retain=retain, timeout=_LIVE_PUBLISH_TIMEOUT)
        except (aiomqtt.MqttError, TimeoutError) as err:
            _LOGGER.warning("could not publish to %s: %s", topic, err)
            return False
        return True

    def send_event(self, event: Event) -> None:
        """Publish an event now, or keep it in the queue's outbox until the broker is back."""
        payload = encode(event)
        if self.connected:
            self._spawn(self._publish_or_keep(self.topics.event, payload))
        else:
            self.host.queue.put_message(self.topics.event, payload)
            self._queued.set()

    async def _publish_or_keep(self, topic: str, payload: bytes) -> None:
        key = id(payload)
        self._unsent_events[key] = (topic, payload)
        if await self.publish(topic, payload):
            self._unsent_events.pop(key, None)
        else:
            self._keep_event(key)

    def _keep_event(self, key: int) -> None:
        message = self._unsent_events.pop(key, None)
        if message is not None:
            self.host.queue.put_message(*message)
            self._queued.set()

    def report(self, state: State) -> None:
        """Publish a state made to report a change (``state_now``) if connected.

        Not a sample, so never queued: the latest sample's readings re-stamped now would become a
        measurement in the backfilled history; offline, the pump events in the outbox tell what happened.
        """
        if self.connected:
            self._spawn(self.publish(self.topics.state, encode(state)))

    def deliver(self, state: State) -> None:
        """Publish a sample live, or queue it (broker down, or it did not acknowledge).

        A duplicate's samples are neither: they are another machine's readings under this node id.
        """
        if self._first_seq is None:
            self._first_seq = state.seq
        if self.duplicate_of is not None:
            return
        if not self.connected:
            self._enqueue(state)
            return
        self._owned_through = state.seq
        # Registered before the task exists: a task cancelled before its first step never runs its
        # own cleanup, so the sample's fate must not depend on it.
        self._unsent[state.seq] = state
        task = asyncio.get_running_loop().create_task(self._publish_live(state))
        self._live.add(task)
        task.add_done_callback(self._live.discard)

    async def _publish_live(self, state: State) -> None:
        if await self.publish(self.topics.state, encode(state)):
            self._unsent.pop(state.seq, None)
        else:
            self._keep_unsent(state.seq)

    def _keep_unsent(self, seq: int) -> None:
        state = self._unsent.pop(seq, None)
        if state is not None:
            self._enqueue(state)

    def _enqueue(self, state: State) -> None:
        self.host.queue.put(Sample(ts=state.ts, seq=state.seq, readings=state.readings))
        self._queued.set()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- connecting ------------------------------------------------------------

    def client_options(self, *, will: bool = True, suffix: str = "") -> dict[str, Any]:
        broker = self.broker
        host, port = self.member
        options: dict[str, Any] = {
            "hostname": host,
            "port": port,
            # The machine id in the client id keeps a duplicate node from kicking the original off.
            "identifier": f"hydro-fleet-{self.host.node_id}-{self.host.machine_id[:8]}{suffix}",
            "keepalive": broker.keepalive,
            "timeout": 10,
        }
        if will:
            will = last_will(self.topics)
            options["will"] = aiomqtt.Will(will.topic, will.payload, qos=1, retain=will.retain)
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
        node_id, machine_id = self.host.node_id, self.host.machine_id
        check = IdentityCheck(self.topics, machine_id, self.instance)
        options = self.client_options(will=False, suffix="-id")
        other = await check.run(options, clone_yielded=self._clone_yielded, held_for=self._held_for)
        if other is None:
            if self.duplicate_of is not None:
                _LOGGER.info("node id %s is free again; resuming", node_id)
            self.duplicate_of = None
            self._clone_yielded = False
            return True
        if other == machine_id and not self._clone_yielded:
            _LOGGER.error(
                "node id %s with machine id %s is held by another bridge (a cloned SD card, or a second bridge on "
                "this machine); this one stays silent. Give one of them another node_id, or a new /etc/machine-id.",
                node_id,
                machine_id,
            )
            self._clone_yielded = True
        elif self.duplicate_of != other:
            _LOGGER.error(
                "node id %s is already used by machine %s (this is %s); not publishing. "
                "Give this Pi another hostname or node_id.",
                node_id,
                other,
                machine_id,
            )
        self._become_duplicate(other)
        return False

    def _become_duplicate(self, other: str) -> None:
        """Go silent, and forget queued samples taken since this bridge last owned the node id."""
        if self.duplicate_of is None:
            since = self._first_seq if self._owned_through is None else self._owned_through + 1
            if since is not None and (dropped := self.host.queue.discard_from(since)):
                _LOGGER.warning("dropped %d queued samples taken while another bridge had this node id", dropped)
        self.duplicate_of = other

    async def _report_duplicate(self, client: aiomqtt.Client) -> None:
        assert self.duplicate_of is not None
        event = duplicate_event(self.host.node_id, self.host.machine_id, self.duplicate_of)
        await client.publish(self.topics.event, encode(event), qos=1, timeout=_LIVE_PUBLISH_TIMEOUT)

    async def run(self) -> None:
        """Stay connected until cancelled: connect sequence, commands in, backfill out."""
        backoff = 1.0
        failed_members = 0
        while True:
            try:
                unique = await self._check_identity()
                # A duplicate connects under another client id: ours may be the other bridge's too.
                options = self.client_options(will=unique, suffix="" if unique else "-dup")
                async with aiomqtt.Client(**options) as client:
                    backoff, failed_members = 1.0, 0
                    if not unique:
                        await self._report_duplicate(client)
                        await IdentityCheck(self.topics, self.host.machine_id, self.instance).until_released(client)
                        continue
                    _LOGGER.info("connected to %s:%s as %s", *self.member, self.host.node_id)
                    await client.subscribe(self.topics.cmd, qos=1)
                    for message in connect_sequence(self.topics, self.host.discovery_payload()):
                        await client.publish(message.topic, message.payload, qos=1, retain=message.retain)
                    self._client = client
                    connected_at = time.monotonic()
                    self._deliver_latest_live()
                    drain = asyncio.get_running_loop().create_task(self._drain(client))
                    try:
                        async for message in client.messages:
                            await self.host.handle_command(message.payload)
                    except asyncio.CancelledError:
                        await self._say_goodbye(client)
                        raise
                    finally:
                        self._client = None
                        self._held_for = time.monotonic() - connected_at
                        drain.cancel()
                        await asyncio.gather(drain, return_exceptions=True)
                        self._abandon_live()
            except (aiomqtt.MqttError, ssl.SSLError, OSError) as err:
                # OSError: a TLS file that vanished or became unreadable since start-up.
                self._client = None
                self._abandon_live()
                # Fail over: the next member at once, a pause only after every member failed.
                members, failed = len(self.broker.addresses), self.member
                self._member += 1
                failed_members += 1
                if failed_members < members:
                    _LOGGER.warning("broker %s:%s unreachable (%s); trying %s:%s", *failed, err, *self.member)
                    continue
                failed_members = 0
                delay = backoff * random.uniform(0.5, 1.5)
                _LOGGER.warning("broker unreachable (%s); retrying in %.1f s", err, delay)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, _BACKOFF_MAX if members == 1 else _CLUSTER_BACKOFF_MAX)
            finally:
                self._client = None

    def _deliver_latest_live(self) -> None:
        """After connecting, the latest sample goes out live (HA shows it now, not one interval later)
        if it was queued, and then only live: taken out of the queue, so the backfill does not send it too."""
        latest = self.host.last_sample
        if latest is not None and self.host.queue.take(latest.ts, latest.seq):
            self.deliver(latest)

    def _abandon_live(self) -> None:
        """The connection is gone: unacknowledged live samples go to the queue now, in order."""
        for task in list(self._live):
            task.cancel()
        for seq in sorted(self._unsent):
            self._keep_unsent(seq)

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean exit: pumps off, that reported, then offline (the last will covers unclean exits)."""
        self._client = None
        state = self.host.stop_pumps_for_shutdown()
        try:
            async with asyncio.timeout(2):
                await client.publish(self.topics.state, encode(state), qos=1)
                offline = last_will(self.topics)  # a clean disconnect does not fire the will
                await client.publish(offline.topic, offline.payload, qos=1, retain=offline.retain)
        except (aiomqtt.MqttError, TimeoutError):
            _LOGGER.warning("could not announce going offline; the broker's last will will")

    async def close(self) -> None:
        """Stop publishing; samples and events whose publish never finished go to the queue."""
        for task in list(self._background) + list(self._live):
            task.cancel()
        await asyncio.gather(*self._background, *self._live, return_exceptions=True)
        for seq in sorted(self._unsent):
            self._keep_unsent(seq)
        for key in list(self._unsent_events):
            self._keep_event(key)

    # --- backfill --------------------------------------------------------------

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Backfill the queue oldest first, in batches, deleting only what the broker acknowledged.

        Runs beside live publishing: a batch waits for its own PUBACK, live samples do not wait for it.
        """
        while True:
            try:
                await self._drain_once(client, self._batch_size)
            except (aiomqtt.MqttError, TimeoutError) as err:
                # Nothing was deleted; the batch is sent again. A dropped connection ends this task anyway.
                _LOGGER.warning("backfill paused: %s", err)
                await asyncio.sleep(1.0)

    async def _drain_once(self, client: aiomqtt.Client, batch_size: int) -> None:
        """Send what is queued, then wait until something new is queued."""
        queue = self.host.queue
        while True:
            self._queued.clear()
            for message_id, topic, payload in queue.messages():
                await client.publish(topic, payload, qos=1, timeout=_BACKFILL_TIMEOUT)
                queue.delete_message(message_id)
            # Reading and encoding a batch takes milliseconds; a worker thread keeps live samples moving.
            batch_ids, batch = await asyncio.get_running_loop().run_in_executor(
                self._worker, self._next_batch, batch_size
            )
            if batch_ids:
                if batch is not None:
                    await client.publish(self.topics.backfill, batch, qos=1, timeout=_BACKFILL_TIMEOUT)
                queue.delete(batch_ids)
                _LOGGER.debug("backfilled %d samples, %d left", len(batch_ids), len(queue))
                continue
            # Photos after the readings' backlog, one at a time, so a new sample never waits behind them.
            if self.send_photo is not None and await self.send_photo(client):
                continue
            await self._queued.wait()

    def _next_batch(self, size: int) -> tuple[list[int], bytes | None]:
        ids, samples = self.host.queue.peek(size)
        return ids, encode(Backfill(samples=tuple(samples))) if samples else None
