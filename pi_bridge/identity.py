"""Who this node is: a machine id to tell two Pis apart, and the duplicate node id check.

Two Pis with the same hostname would publish as the same node and HA would merge them
silently. Before each connection the bridge reads the retained config and availability
of its node id: a config from another machine id that is still online means someone
else has this id, and this bridge reports that instead of publishing over it. (An
offline one is a replaced Pi, which may take the id over.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from pathlib import Path
import secrets
from typing import Any

import aiomqtt

from hydro_fleet_protocol import AVAILABILITY_ONLINE, NodeConfig, ProtocolError, Topic

_LOGGER = logging.getLogger(__name__)
_RETAINED_WAIT = 0.5


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
    """Reads the retained config/availability of our node id with a short extra connection (no will)."""

    def __init__(self, topics: Topic, own_machine_id: str) -> None:
        self.topics = topics
        self.own = own_machine_id

    async def run(self, options: dict[str, Any]) -> str | None:
        """The other machine id if another machine is online with our node id, else None."""
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
        raw_config = retained.get(self.topics.config)
        if not raw_config:
            return None
        try:
            other = NodeConfig.parse(raw_config).machine_id
        except ProtocolError as err:
            _LOGGER.warning("retained config of %s is unreadable (%s); taking the id over", self.topics.node_id, err)
            return None
        online = retained.get(self.topics.availability, b"").decode(errors="replace") == AVAILABILITY_ONLINE
        if other is None or other == self.own or not online:
            return None
        return other
