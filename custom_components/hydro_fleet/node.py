"""What the integration knows of one node, and who listens to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from homeassistant.core import CALLBACK_TYPE, callback

from .protocol import Event, NodeConfig, Plan, SensorType, State, Topic
from .ranges import Range
from .shown import WATER_LOW, Shown

type EventListener = Callable[[Event], None]


class Section(StrEnum):
    """The parts of a sample an entity can depend on.

    Listeners are keyed by these and by the keys ``Shown.update`` reports, in one table;
    the "/" keeps them apart from reading keys, which have none.
    """

    READINGS = "/readings"  # readings and probe problems
    PUMPS = "/pumps"
    PLANS = "/plans"
    HEALTH = "/health"


ALL_SECTIONS = frozenset(Section)
# The node's water-low decision changed (State.water_low is not a reading).
WATER_LOW_KEYS = frozenset({WATER_LOW})
_READINGS_ONLY = frozenset({Section.READINGS})
NO_SECTIONS: frozenset[Section] = frozenset()


def changed_keys(old: Mapping[str, object], new: Mapping[str, object]) -> frozenset[str]:
    """The keys whose value differs between two samples (added and dropped keys included)."""
    if old == new:
        return frozenset()
    changed = {key for key, value in new.items() if key not in old or old[key] != value}
    changed.update(old.keys() - new.keys())
    return frozenset(changed)


def _crosses_deadline(previous: State, state: State) -> bool:
    """Whether ``state`` is the first sample after a running pump's announced stop time:
    the same pumps, but now a confirmation that it runs past it (see switch.py)."""
    return any(p.on and p.until is not None and previous.ts < p.until <= state.ts for p in state.pumps.values())


@dataclass(slots=True, eq=False)
class Node:
    """A node's discovery config, its latest report and its confirmed plans."""

    config: NodeConfig
    topics: Topic
    online: bool = False
    # HA's own MQTT connection: while it is down nothing the node sends can arrive, so
    # its last values are not live (HA's own MQTT entities go unavailable too).
    broker_connected: bool = True
    state: State | None = None
    # Plans as the node confirmed them (from its state or a set_plan ack): entities
    # show these, never what a user asked for but the node has not accepted.
    plans: dict[str, Plan] = field(default_factory=dict)
    # Health keys the node has reported: their diagnostic sensors exist from then on.
    health_keys: frozenset[str] = frozenset()
    # What the reading entities show, kept current by the fleet with config, state and options.
    shown: Shown = field(default_factory=Shown)
    # One keyed subscription table: per section or shown key, the listeners by the order they came in.
    _listeners: dict[str, dict[int, Callable[[], None]]] = field(default_factory=dict)
    # Every listener, and those of any reading (called when the changed readings are not known).
    _all: dict[int, Callable[[], None]] = field(default_factory=dict)
    _readings: dict[int, Callable[[], None]] = field(default_factory=dict)
    _next_listener: int = 0
    _event_listeners: list[EventListener] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.config.node_id

    @property
    def available(self) -> bool:
        return self.online and self.broker_connected

    def update_shown(
        self, ranges: Mapping[SensorType, Range], keys: frozenset[str] | None = None
    ) -> frozenset[str] | None:
        """Bring what the node's reading entities show up to date; what changed (see Shown.update)."""
        return self.shown.update(self.config, self.state, ranges, keys)

    def apply_state(
        self, state: State, ranges: Mapping[SensorType, Range]
    ) -> tuple[frozenset[Section], frozenset[str] | None]:
        """Take the node's new state; return the sections that changed and the shown keys that did.

        The keys are None (any) unless only some readings changed: only the entities whose
        shown value changed are called, so a reading that moved within its probe's normal
        range calls its sensor, not its status or the problems.
        """
        previous, self.state = self.state, state
        changed: set[Section] = set()
        shown_keys: frozenset[str] | None = None
        if previous is None:
            changed.add(Section.READINGS)
            self.update_shown(ranges)
        elif keys := (
            changed_keys(previous.readings, state.readings)
            | changed_keys(previous.problems, state.problems)
            | (WATER_LOW_KEYS if previous.water_low != state.water_low else frozenset())
        ):
            shown_keys = self.update_shown(ranges, keys)
            if shown_keys:
                changed.add(Section.READINGS)
        if previous is None or previous.pumps != state.pumps or (state.pumps and _crosses_deadline(previous, state)):
            changed.add(Section.PUMPS)
        if previous is None or previous.health != state.health:
            changed.add(Section.HEALTH)
        if state.plans:
            plans = {k: v for k, v in state.plans.items() if any(p.key == k for p in self.config.plans)}
            if any(self.plans.get(k) != v for k, v in plans.items()):
                self.plans.update(plans)
                changed.add(Section.PLANS)
        return frozenset(changed), shown_keys

    @callback
    def async_add_listener(
        self,
        listener: Callable[[], None],
        sections: frozenset[Section] = ALL_SECTIONS,
        keys: frozenset[str] | None = None,
    ) -> CALLBACK_TYPE:
        """Call ``listener`` when one of ``sections`` of a sample changes, and on availability or config changes.

        ``keys`` narrows the readings section to those of what the reading entities show
        (the keys ``Shown.update`` reports): the sensor of one reading is not called when
        only another reading changed, nor a probe status when only its reading moved.
        """
        number = self._next_listener
        self._next_listener += 1
        subscribed: set[str] = set(sections)
        if keys is not None and Section.READINGS in sections:
            subscribed = (subscribed - _READINGS_ONLY) | keys
        tables = [self._all, *(self._listeners.setdefault(key, {}) for key in subscribed)]
        if Section.READINGS in sections:
            tables.append(self._readings)
        for table in tables:
            table[number] = listener

        def remove() -> None:
            for table in tables:
                table.pop(number, None)

        return remove

    @callback
    def async_add_event_listener(self, listener: EventListener) -> CALLBACK_TYPE:
        """Call ``listener`` with every event the node sends."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @callback
    def async_notify(self, changed: frozenset[Section] | None = None, keys: frozenset[str] | None = None) -> None:
        """Tell the entities; ``changed`` (the parts of a sample that changed) skips the rest.

        ``keys`` are what changed of what the reading entities show (see ``Shown.update``)
        when ``changed`` has the readings section; None means any. A node resends every
        value every few seconds and most do not change: an entity that only shows readings
        is not even called when only the pumps changed, nor the sensor of a reading that
        stayed put.
        """
        if changed is None:
            called = self._all
        else:
            called = {}
            listeners = self._listeners
            for section in changed:
                if (table := listeners.get(section)) is not None:
                    called.update(table)
            if Section.READINGS in changed:
                if keys is None:
                    called.update(self._readings)
                else:
                    for key in keys:
                        if (table := listeners.get(key)) is not None:
                            called.update(table)
            if len(called) > 1:
                called = dict(sorted(called.items()))
        for listener in list(called.values()):
            listener()

    @callback
    def async_notify_event(self, event: Event) -> None:
        for listener in list(self._event_listeners):
            listener(event)
