"""What the integration knows of one node, and who listens to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from homeassistant.core import CALLBACK_TYPE, callback

from .protocol import Event, NodeConfig, Plan, SensorType, State, Topic
from .ranges import Range
from .shown import Shown

type EventListener = Callable[[Event], None]


class Section(StrEnum):
    """The parts of a sample an entity can depend on."""

    READINGS = "readings"  # readings and probe problems
    PUMPS = "pumps"
    PLANS = "plans"
    HEALTH = "health"


ALL_SECTIONS = frozenset(Section)
_READINGS_ONLY = frozenset({Section.READINGS})
NO_SECTIONS: frozenset[Section] = frozenset()


def changed_keys(old: Mapping[str, object], new: Mapping[str, object]) -> frozenset[str]:
    """The keys whose value differs between two samples (added and dropped keys included)."""
    if old == new:
        return frozenset()
    changed = {key for key, value in new.items() if key not in old or old[key] != value}
    changed.update(old.keys() - new.keys())
    return frozenset(changed)


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
    # What the reading entities show, kept current by the fleet with config, state and options.
    shown: Shown = field(default_factory=Shown)
    # (listener, sections, keys, the sections it is called for whatever the keys)
    _listeners: list[tuple[Callable[[], None], frozenset[Section], frozenset[str] | None, frozenset[Section]]] = field(
        default_factory=list
    )
    _event_listeners: list[EventListener] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.config.node_id

    @property
    def available(self) -> bool:
        return self.online

    def update_shown(
        self, ranges: Mapping[SensorType, Range], water_low_percent: float, keys: frozenset[str] | None = None
    ) -> frozenset[str] | None:
        """Bring what the node's reading entities show up to date; what changed (see Shown.update)."""
        return self.shown.update(self.config, self.state, ranges, water_low_percent, keys)

    def apply_state(
        self, state: State, ranges: Mapping[SensorType, Range], water_low_percent: float
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
            self.update_shown(ranges, water_low_percent)
        elif keys := changed_keys(previous.readings, state.readings) | changed_keys(previous.problems, state.problems):
            shown_keys = self.update_shown(ranges, water_low_percent, keys)
            if shown_keys:
                changed.add(Section.READINGS)
        if previous is None or previous.pumps != state.pumps:
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
        entry = (listener, sections, keys, sections - _READINGS_ONLY)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry)

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
        for listener, sections, wanted, unkeyed in list(self._listeners):
            if changed is None:
                listener()
            elif sections.isdisjoint(changed):
                continue
            elif wanted is None or keys is None or not wanted.isdisjoint(keys) or not unkeyed.isdisjoint(changed):
                listener()

    @callback
    def async_notify_event(self, event: Event) -> None:
        for listener in list(self._event_listeners):
            listener(event)
