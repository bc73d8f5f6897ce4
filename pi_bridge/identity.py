"""Who this node is: a machine id to tell two Pis apart, and the duplicate node id check.

Two Pis with the same hostname would publish as the same node and HA would merge them
silently. Before each connection the bridge reads the retained config and availability
of its node id: a config from another machine id that is still online means someone
else has this id, and this bridge reports that instead of publishing over it. (An
offline one is a replaced Pi, which may take the id over.)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
import secrets
from typing import Any

import aiomqtt

from hydro_fleet_protocol import AVAILABILITY_ONLINE, NodeConfig, ProtocolError, Topic

_LOGGER = logging.getLogger(__name__)
_RETAINED_WAIT = 0.5


def machine_id(path: Path, state_dir: Path) -> str:
    """``/etc/machine-id``, else an id generated once and kept in the state directory."""
    for candidate in (path, state_dir / "machine-id"):
        try:
            value = candidate.read_text().strip()
        except OSError:
            continue
        if value:
            return value
    value = secrets.token_hex(16)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "machine-id").write_text(value + "\n")
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
