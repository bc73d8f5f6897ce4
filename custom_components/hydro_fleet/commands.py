"""Commands to nodes: publish, wait for the id-matched ack, raise a translated error."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import uuid4

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import COMMAND_TIMEOUT, DOMAIN
from .node import Node
from .protocol import Ack, AckCode, Command, CommandAction, Plan, ProtocolError, encode

_LOGGER = logging.getLogger(__name__)
_ACK_CODES = frozenset(AckCode)
# Ack codes by which a node refuses the request itself, not its own state (water low, a fault).
_REFUSED_INPUT = frozenset({AckCode.INVALID_PLAN, AckCode.VOLUME_TOO_LARGE, AckCode.INVALID_DURATION})


def _rejected_key(code: str | None) -> str:
    """The translation of a refusal: one per AckCode, a generic one for codes of newer nodes."""
    return f"command_rejected_{code}" if code in _ACK_CODES else "command_rejected"


class Commands:
    """The commands in flight, each waiting on a future its node's ack completes."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._pending_acks: dict[str, asyncio.Future[Ack]] = {}

    @callback
    def async_ack_received(self, node_id: str, ack: Ack) -> None:
        """Complete the command ``ack`` answers; an ack nobody waits for (late, or a duplicate) is dropped."""
        future = self._pending_acks.get(f"{node_id}/{ack.id}")
        if future is not None and not future.done():
            future.set_result(ack)

    @callback
    def async_cancel_all(self) -> None:
        for future in self._pending_acks.values():
            future.cancel()

    async def async_command(
        self, node: Node, action: CommandAction, target: str | None = None, params: dict[str, Any] | None = None
    ) -> Ack:
        """Send a command and wait for the node's ack; raise a translated error if it fails."""
        command = Command(id=uuid4().hex, action=action, target=target, params=params or {})
        key = f"{node.node_id}/{command.id}"
        future: asyncio.Future[Ack] = self.hass.loop.create_future()
        self._pending_acks[key] = future
        placeholders = {"node": node.config.name, "action": str(action)}
        try:
            await mqtt.async_publish(self.hass, node.topics.cmd, encode(command), qos=1, encoding=None)
            async with asyncio.timeout(COMMAND_TIMEOUT):
                ack = await future
        except TimeoutError:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="command_timeout", translation_placeholders=placeholders
            ) from None
        finally:
            self._pending_acks.pop(key, None)
        if not ack.ok:
            # A refusal of what the user asked for is the user's to fix (HTTP 400 over REST, not 500).
            error = ServiceValidationError if ack.code in _REFUSED_INPUT else HomeAssistantError
            raise error(
                translation_domain=DOMAIN,
                translation_key=_rejected_key(ack.code),
                translation_placeholders=placeholders | {"reason": ack.message or str(ack.code)},
            )
        return ack

    async def async_set_plan(self, node: Node, plan_key: str, plan: Plan) -> Plan:
        """Send a plan; it is shown once the node confirms it (in the ack, or its next state)."""
        ack = await self.async_command(node, CommandAction.SET_PLAN, plan_key, plan.to_dict())
        confirmed = plan
        if "plan" in ack.result:
            try:
                confirmed = Plan.from_dict(ack.result["plan"], "result.plan")
            except ProtocolError as err:
                _LOGGER.warning("Node %s confirmed a plan that is not valid: %s", node.node_id, err)
        node.plans[plan_key] = confirmed
        node.async_notify()
        return confirmed
