"""Who this node is: a machine id to tell two Pis apart, and the duplicate node id check.

Two Pis with the same hostname would publish as the same node and HA would merge them
silently. Before each connection the bridge reads the retained config and availability
of its node id: a config from another machine id that is still online means someone
else has this id, and this bridge reports that instead of publishing over it. (An
offline one is a replaced Pi, which may take the id over.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from pathlib import Path
import secrets
import time
from typing import Any

import aiomqtt

from hydro_fleet_protocol import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    Event,
    EventType,
    NodeConfig,
    ProtocolError,
    Topic,
)

_LOGGER = logging.getLogger(__name__)
_RETAINED_WAIT = 0.5
RECHECK_SECONDS = 30.0  # a duplicate checks this often whether the node id is free again
# A connection held this long was ours before a clone came; a younger one is the newcomer's.
ESTABLISHED = 10.0


# Hydro Fleet's application id: machine ids are keyed with it, as systemd's
# sd_id128_get_machine_app_specific() does (a fixed random 128-bit value, never change it).
APP_ID = bytes.fromhex("6a1c0e3f9b5d4e27a8f1c2d3b4e5f607")


def app_specific_id(machine_id: str, app_id: bytes = APP_ID) -> str:
    """An id for this application derived from ``/etc/machine-id``, which machine-id(5) says to keep confidential.

    HMAC-SHA256 keyed with the 128-bit machine id over the application id, first 128
    bits, marked as a version 4 UUID: the same derivation as systemd's
    sd_id128_get_machine_app_specific(), so the published id identifies the machine to
    Hydro Fleet without revealing its machine id or linking it to other applications.
    """
    digest = bytearray(hmac.new(bytes.fromhex(machine_id), app_id, hashlib.sha256).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def _machine_id_of(path: Path) -> str | None:
    """The 32 hex digits in ``path``, or None if it is missing or holds something else."""
    try:
        value = path.read_text().strip().lower()
    except OSError:
        return None
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        return None
    return value


def machine_id(path: Path | None, state_dir: Path) -> str:
    """The node's published machine id.

    Derived (``app_specific_id``) from ``path`` (``/etc/machine-id`` on a Pi) if it holds
    one; else, and always for ``path`` None (a simulated node is a machine of its own), an
    id generated once and kept in the state directory.
    """
    if path is not None and (value := _machine_id_of(path)) is not None:
        return app_specific_id(value)
    own = state_dir / "machine-id"
    if (value := _machine_id_of(own)) is not None:
        return value
    value = secrets.token_hex(16)
    state_dir.mkdir(parents=True, exist_ok=True)
    own.write_text(value + "\n")
    return value


class IdentityCheck:
    """Reads the retained config/availability of our node id with a short extra connection (no will).

    A bridge with our machine id too (a cloned SD card, or a second bridge on this machine)
    also has our MQTT client id, so each connection of one throws the other off the broker.
    Each bridge puts a random ``instance`` id of its process in its config (``NodeConfig.extra``):
    when our connection ended and the retained config, online, now has our machine id with
    another instance, a live clone connected after us. The bridge that had held the
    connection for ESTABLISHED seconds takes it back; a younger one (the newcomer, thrown
    off in turn) gives way. So exactly one keeps the node, after at most two takeovers.
    """

    def __init__(self, topics: Topic, own_machine_id: str, own_instance: str) -> None:
        self.topics = topics
        self.own = own_machine_id
        self.instance = own_instance

    async def run(self, options: dict[str, Any], *, clone_yielded: bool, held_for: float | None) -> str | None:
        """The machine id this bridge must give way to (our own for a clone), else None.

        ``clone_yielded``: this bridge already gave way to a clone (which holds the id while online);
        ``held_for``: how long our last connection lasted (None: not connected yet in this run).
        """
        config, online = await self._retained(options)
        if config is None or config.machine_id is None or not online:
            return None
        if config.machine_id != self.own:
            return config.machine_id
        if clone_yielded:
            return self.own
        instance = config.extra.get("instance")
        if held_for is None or instance in (None, self.instance):
            return None  # our own config, or the first connection of this run (a dead predecessor's, maybe)
        if held_for >= ESTABLISHED:
            _LOGGER.warning(
                "a bridge with this machine id (%s) took node %s over; taking it back", self.own, self.topics.node_id
            )
            return None
        return self.own

    async def _retained(self, options: dict[str, Any]) -> tuple[NodeConfig | None, bool]:
        retained: dict[str, bytes] = {}
        async with aiomqtt.Client(**options) as client:
            await client.subscribe(self.topics.config, qos=1)
            await client.subscribe(self.topics.availability, qos=1)
            try:
                async with asyncio.timeout(_RETAINED_WAIT):
                    async for message in client.messages:
                        retained[str(message.topic)] = bytes(message.payload)
                        if len(retained) == 2:
                            break
            except TimeoutError:
                pass  # retained messages come at once; silence means there are none
        online = retained.get(self.topics.availability, b"").decode(errors="replace") == AVAILABILITY_ONLINE
        raw_config = retained.get(self.topics.config)
        if not raw_config:
            return None, online
        try:
            return NodeConfig.parse(raw_config), online
        except ProtocolError as err:
            _LOGGER.warning("retained config of %s is unreadable (%s); taking the id over", self.topics.node_id, err)
            return None, online

    async def until_released(self, client: aiomqtt.Client) -> None:
        """Wait until the node id's owner goes offline (its goodbye or its last will), at most RECHECK_SECONDS."""
        await client.subscribe(self.topics.availability, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECHECK_SECONDS):
                async for message in client.messages:
                    if bytes(message.payload) == AVAILABILITY_OFFLINE.encode():  # type: ignore[arg-type]
                        return


def duplicate_event(node_id: str, machine_id: str, other_machine_id: str) -> Event:
    """The ``duplicate_node`` event a bridge that stays silent publishes."""
    if other_machine_id == machine_id:
        message = (
            "another bridge with the same machine id (a cloned SD card?) holds this node id; this one stays silent"
        )
    else:
        message = "another machine publishes as this node id; this one stays silent"
    return Event(
        ts=round(time.time(), 3),
        type=str(EventType.DUPLICATE_NODE),
        data={"node_id": node_id, "machine_id": machine_id, "other_machine_id": other_machine_id, "message": message},
    )
