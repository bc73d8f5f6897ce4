"""What the integration knows of one node, and who listens to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from homeassistant.core import CALLBACK_TYPE, callback

from .protocol import Event, NodeConfig, Plan, State, Topic

type EventListener = Callable[[Event], None]


@dataclass(slots=True, eq=False)
class Node:
    """A node's discovery config, its latest report and its confirmed plans."""

    config: NodeConfig
    topics: Topic
    online: bool = False
    state: State | None = None
    # Plans as the node confirmed them (from its state or a set_plan ack): entities
    # show these, never what a user asked for but the node has not accepted.
    plans: dict[str, Plan] = field(default_factory=dict)
    # Health keys the node has reported: their diagnostic sensors exist from then on.
    health_keys: frozenset[str] = frozenset()
    _listeners: list[Callable[[], None]] = field(default_factory=list)
    _event_listeners: list[EventListener] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.config.node_id

    @property
    def available(self) -> bool:
        return self.online

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` on every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_add_event_listener(self, listener: EventListener) -> CALLBACK_TYPE:
        """Call ``listener`` with every event the node sends."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @callback
    def async_notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    @callback
    def async_notify_event(self, event: Event) -> None:
        for listener in list(self._event_listeners):
            listener(event)
