"""Topic layout: ``<prefix>/<node_id>/<kind>``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import re

DEFAULT_PREFIX = "hydro_fleet"
AVAILABILITY_ONLINE = "online"
AVAILABILITY_OFFLINE = "offline"

# Node ids become MQTT topic levels, device identifiers and Mosquitto user names, so they
# are kept to a conservative alphabet (the seed's `pi-1`..`pi-99` fits).
_NODE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class TopicKind(StrEnum):
    """The last level of a Hydro Fleet topic."""

    CONFIG = "config"
    AVAILABILITY = "availability"
    STATE = "state"
    BACKFILL = "backfill"
    EVENT = "event"
    CMD = "cmd"
    ACK = "ack"
    PHOTO = "photo"  # binary: a JSON header line, then a JPEG (protocol/photo.py)


# Who publishes what. The broker ACL that ``hydro-fleet-bridge provision`` generates is
# built from these, so a new kind is a node topic (writable by its own node only)
# without any ACL change; only a kind HA publishes has to be listed here.
HA_PUBLISHED_KINDS = frozenset({TopicKind.CMD})
# Published retained by the node; it reads its own back to detect a duplicate node id.
RETAINED_KINDS = frozenset({TopicKind.CONFIG, TopicKind.AVAILABILITY})


def node_published_kinds() -> tuple[TopicKind, ...]:
    """Every kind a node publishes under its own id (all but HA's commands)."""
    return tuple(kind for kind in TopicKind if kind not in HA_PUBLISHED_KINDS)


def node_read_kinds() -> tuple[TopicKind, ...]:
    """The kinds a node subscribes to under its own id: its commands and its retained topics."""
    return tuple(kind for kind in TopicKind if kind in HA_PUBLISHED_KINDS or kind in RETAINED_KINDS)


_KINDS = {kind.value: kind for kind in TopicKind}


def is_valid_node_id(node_id: str) -> bool:
    """Return True if ``node_id`` may be used as a node id."""
    return bool(_NODE_ID.match(node_id))


@dataclass(frozen=True, slots=True)
class Topic:
    """The topics of one node under one prefix."""

    prefix: str
    node_id: str

    def __call__(self, kind: TopicKind) -> str:
        return f"{self.prefix}/{self.node_id}/{kind}"

    @property
    def config(self) -> str:
        return self(TopicKind.CONFIG)

    @property
    def availability(self) -> str:
        return self(TopicKind.AVAILABILITY)

    @property
    def state(self) -> str:
        return self(TopicKind.STATE)

    @property
    def backfill(self) -> str:
        return self(TopicKind.BACKFILL)

    @property
    def event(self) -> str:
        return self(TopicKind.EVENT)

    @property
    def cmd(self) -> str:
        return self(TopicKind.CMD)

    @property
    def ack(self) -> str:
        return self(TopicKind.ACK)

    @property
    def photo(self) -> str:
        return self(TopicKind.PHOTO)


def wildcard(prefix: str, kind: TopicKind) -> str:
    """Return the subscription that matches ``kind`` for every node."""
    return f"{prefix}/+/{kind}"


def parse_topic(prefix: str, topic: str) -> tuple[str, TopicKind] | None:
    """Split ``topic`` into (node_id, kind), or None if it is not one of ours."""
    head, sep, rest = topic.partition(f"{prefix}/") if topic.startswith(prefix) else ("", "", "")
    if head or not sep:
        return None
    node_id, _, kind = rest.partition("/")
    if (topic_kind := _KINDS.get(kind)) is None or not is_valid_node_id(node_id):
        return None
    return node_id, topic_kind


def broker_address(entry: str, default_port: int) -> tuple[str, int]:
    """``"host"`` or ``"host:port"`` of one broker (cluster member) as ``(host, port)``.

    Nodes and the receiver take a list of these to fail over between cluster members.
    """
    host, sep, port = entry.strip().rpartition(":")
    if not sep:
        host, port = entry.strip(), str(default_port)
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"broker address {entry!r} is not host or host:port")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class Publication:
    """One message to publish (QoS 1 throughout): where, what, whether the broker keeps it."""

    topic: str
    payload: bytes
    retain: bool


def last_will(topics: Topic) -> Publication:
    """What the broker publishes for a node whose connection drops: retained ``offline``.

    A node that disconnects cleanly publishes the same itself, since a clean disconnect
    does not fire the will.
    """
    return Publication(topics.availability, AVAILABILITY_OFFLINE.encode(), True)


def came_online(topics: Topic) -> Publication:
    """Retained ``online``: the node is live (its will says the opposite)."""
    return Publication(topics.availability, AVAILABILITY_ONLINE.encode(), True)


def connect_sequence(topics: Topic, config: bytes) -> tuple[Publication, Publication]:
    """What every node publishes on each connection, with ``last_will`` set: its retained
    config, then retained ``online``. Its latest state follows (see protocol.md)."""
    return Publication(topics.config, config, True), came_online(topics)
