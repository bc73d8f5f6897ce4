"""The transactional outbox publisher: committed messages go to MQTT, in order, at least once.

Rows are read oldest first, published with QoS 1 and deleted only after the broker
acknowledged all of them, so a crash or a broker outage at any point re-sends rather
than loses (consumers see the request id in events to tell a re-send). Within one batch
of rows, a node's retained state that a later state of the same node replaces is not
published (see ``superseded``). The same loop publishes the receiver's own node:
retained config, ``online`` (with ``offline`` as its last will) and a metrics state
every few seconds.

Replicas sharing one PostgreSQL database elect one publisher (see ``Store.try_lead``):
only the replica holding the lock connects to the broker, so the receiver node has one
connection and each station's rows go out in id order from one place. The others ask
again every ``_LEAD_POLL`` seconds and take over when the publisher's replica dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass, field
import logging
import ssl

import aiomqtt

from hydro_fleet_protocol import State, Topic, TopicKind, broker_address, connect_sequence, encode, last_will

from .metrics import Metrics
from .nodes import receiver_config
from .storage import AsyncStore, OutboxRow, StorageUnavailableError

_LOGGER = logging.getLogger(__name__)
_BACKOFF_START = 0.5
_BACKOFF_MAX = 30.0
_LEAD_POLL = 1.0
# Rows read per round (superseded states are skipped within one), published in groups
# of _IN_FLIGHT whose acks are awaited together. A broker with Nagle's algorithm on
# (Mosquitto's default) holds back a group's later PUBACKs until our delayed ACK, ~40 ms
# per group: groups of 8 managed ~180 messages/s, so under load the outbox only grew;
# 64 manage ~1,200/s. Larger groups block the event loop longer while their publishes
# start (~14 ms for 200 on a small core). paho still caps the wire at 20 in flight.
_BATCH = 200
_IN_FLIGHT = 64
_STATE_SUFFIX = f"/{TopicKind.STATE}"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """The broker; ``host`` may list cluster members, ``"a:1883,b:1883"``, tried in turn."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        return tuple(broker_address(entry, self.port) for entry in self.host.split(","))


class Publisher:
    """Drains the outbox to the broker and keeps the receiver node's state fresh."""

    def __init__(
        self,
        store: AsyncStore,
        metrics: Metrics,
        mqtt: MqttSettings,
        prefix: str,
        node_id: str,
        metrics_interval: float = 10.0,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._mqtt = mqtt
        self._topics = Topic(prefix, node_id)
        self._node_id = node_id
        self._metrics_interval = metrics_interval
        self._wake = asyncio.Event()
        self._seq = 0
        self._member = 0  # index into mqtt.addresses: the member in use or tried next
        self.connected = False
        self.published = 0

    def wake(self) -> None:
        """Called after a commit that added outbox rows."""
        self._wake.set()

    async def run(self) -> None:
        """Connect, drain, reconnect with backoff; runs until cancelled."""
        backoff = _BACKOFF_START
        while True:
            try:
                await self._wait_for_lead()
                await self._session()
            except aiomqtt.MqttError as err:
                if self.connected or backoff == _BACKOFF_START:
                    _LOGGER.warning("MQTT broker %s:%s unreachable (%s); outbox kept, retrying", *self._address, err)
                # A cluster: the next member on the next try.
                self._member += 1
            except (_LeadLostError, StorageUnavailableError) as err:
                _LOGGER.warning("outbox publishing paused: %s", err or "another replica publishes now")
            except Exception:
                # A database error must not end publishing for good: log it, retry later.
                _LOGGER.exception("outbox publisher failed; retrying")
            if self.connected:  # the connection had worked: start the backoff over
                backoff = _BACKOFF_START
            self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(_BACKOFF_MAX, backoff * 2)
            if self._wake.is_set():  # new rows are waiting: do not sit out a long backoff for them
                backoff = min(backoff, 2.0)

    async def _wait_for_lead(self) -> None:
        """Return once this process publishes the outbox (at once unless replicas share it)."""
        # Polling: the lock is another replica's database session; nothing here can signal it.
        while not await self._store.try_lead():  # noqa: ASYNC110
            await asyncio.sleep(_LEAD_POLL)

    @property
    def _address(self) -> tuple[str, int]:
        addresses = self._mqtt.addresses
        return addresses[self._member % len(addresses)]

    async def _session(self) -> None:
        host, port = self._address
        offline = last_will(self._topics)
        will = aiomqtt.Will(offline.topic, offline.payload, qos=1, retain=offline.retain)
        tls = ssl.create_default_context() if self._mqtt.tls else None
        async with aiomqtt.Client(
            host,
            port,
            username=self._mqtt.username,
            password=self._mqtt.password,
            identifier=f"hydro-fleet-{self._node_id}",
            will=will,
            tls_context=tls,
            timeout=10,
        ) as client:
            self.connected = True
            # aiomqtt warns when more than this many calls are pending; a group is expected.
            client.pending_calls_threshold = _IN_FLIGHT + 10
            _LOGGER.info("connected to MQTT broker %s:%s", host, port)
            for message in connect_sequence(self._topics, encode(receiver_config(self._node_id))):
                await client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            try:
                await self._serve(client)
            except asyncio.CancelledError:
                # A clean disconnect does not fire the last will: say goodbye ourselves.
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(offline.topic, offline.payload, qos=1, retain=offline.retain, timeout=2)
                raise

    async def _serve(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        next_metrics = loop.time()
        while True:
            await self._drain(client)
            if loop.time() >= next_metrics:
                await self._publish_metrics(client)
                next_metrics = loop.time() + self._metrics_interval
            try:
                async with asyncio.timeout(max(0.0, next_metrics - loop.time())):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            # Clear first: a commit landing while we publish sets it again and is not missed.
            self._wake.clear()
            if not await self._store.try_lead():
                raise _LeadLostError
            rows = await self._store.outbox_batch(_BATCH)
            if not rows:
                return
            skip = superseded(rows)
            send = [r for r in rows if r.id not in skip]
            # QoS 1 on one connection keeps order (the tasks start, and so hand their
            # message to paho, in this order); a group at once saves round trips.
            for start in range(0, len(send), _IN_FLIGHT):
                group = send[start : start + _IN_FLIGHT]
                await asyncio.gather(*(client.publish(r.topic, r.payload, qos=1, retain=r.retain) for r in group))
            await self._store.outbox_delete(rows)
            self.published += len(send)

    async def _publish_metrics(self, client: aiomqtt.Client) -> None:
        backlog = await self._store.outbox_backlog()
        stations = await self._store.station_count()
        self._seq += 1
        state = State(
            ts=self._metrics.clock(),
            seq=self._seq,
            readings=self._metrics.readings(backlog, stations),
            problems=self._metrics.problems(backlog),
        )
        await client.publish(self._topics.state, encode(state), qos=0)


class _LeadLostError(Exception):
    """Another replica publishes now (this one lost its database session meanwhile)."""


def superseded(rows: Sequence[OutboxRow]) -> set[int]:
    """Ids of retained node states that a later row of the same topic in ``rows`` replaces.

    A retained state is the node's whole current snapshot, and the broker keeps only the
    last one anyway: when the outbox holds several states of one node (a burst, or the
    backlog of a broker outage), only the newest needs to go out. Everything else (events,
    configs, availability) is published, in order.
    """
    latest: dict[str, int] = {}
    for row in rows:
        if row.retain and row.topic.endswith(_STATE_SUFFIX):
            latest[row.topic] = row.id
    return {r.id for r in rows if r.retain and r.topic.endswith(_STATE_SUFFIX) and latest[r.topic] != r.id}
