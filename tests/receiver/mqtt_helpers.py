"""A subscriber that records everything under the prefix, for the MQTT tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import time

import aiomqtt

from devtools.mosquitto import Mosquitto


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool


class Collector:
    """Subscribes to ``hydro_fleet/#`` with QoS 1 and keeps every message, in arrival order."""

    def __init__(self, broker: Mosquitto, topic: str = "hydro_fleet/#") -> None:
        self._client = aiomqtt.Client(broker.host, broker.port, identifier=None)
        self._topic = topic
        self._task: asyncio.Task[None] | None = None
        self.messages: list[Message] = []

    async def __aenter__(self) -> Collector:
        await self._client.__aenter__()
        await self._client.subscribe(self._topic, qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self._client.messages:
            self.messages.append(Message(str(message.topic), bytes(message.payload), bool(message.retain)))

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(aiomqtt.MqttError):
            await self._client.__aexit__(None, None, None)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                seen = sorted({m.topic for m in self.messages})
                raise AssertionError(f"timed out waiting for {what or 'a condition'}; topics seen: {seen}")
            await asyncio.sleep(0.02)


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}")
        await asyncio.sleep(0.05)
