"""Who a node tells about a sample: only the entities whose part of it changed."""

from __future__ import annotations

from custom_components.hydro_fleet.node import Node, Section, changed_keys as _changed_keys
from hydro_fleet_protocol import Topic

from .conftest import node_config

READINGS = frozenset({Section.READINGS})


def _node_with_listeners() -> tuple[Node, list[str]]:
    node = Node(config=node_config(), topics=Topic("hydro_fleet", "pi-1"))
    called: list[str] = []
    node.async_add_listener(lambda: called.append("ph"), READINGS, frozenset({"ph"}))
    node.async_add_listener(lambda: called.append("tds"), READINGS, frozenset({"tds"}))
    node.async_add_listener(lambda: called.append("all readings"), READINGS)
    node.async_add_listener(lambda: called.append("pumps"), frozenset({Section.PUMPS}))
    node.async_add_listener(lambda: called.append("ph or pumps"), READINGS | {Section.PUMPS}, frozenset({"ph"}))
    return node, called


def test_a_reading_change_calls_only_the_entities_of_that_reading() -> None:
    node, called = _node_with_listeners()
    node.async_notify(READINGS, frozenset({"tds"}))
    assert called == ["tds", "all readings"]


def test_unknown_keys_and_other_sections_call_everyone_concerned() -> None:
    node, called = _node_with_listeners()
    node.async_notify(READINGS)
    assert called == ["ph", "tds", "all readings", "ph or pumps"]
    called.clear()
    node.async_notify(frozenset({Section.PUMPS}), frozenset())
    assert called == ["pumps", "ph or pumps"]
    called.clear()
    node.async_notify()  # availability, config or options: everyone
    assert called == ["ph", "tds", "all readings", "pumps", "ph or pumps"]


def test_changed_keys() -> None:
    assert _changed_keys({"ph": 6.1, "tds": 700}, {"ph": 6.1, "tds": 700}) == frozenset()
    assert _changed_keys({"ph": 6.1, "tds": 700}, {"ph": 6.2, "tds": 700}) == {"ph"}
    assert _changed_keys({"ph": 6.1, "tds": 700}, {"ph": 6.1, "ec": 1400}) == {"tds", "ec"}
    assert _changed_keys({"ph": 6.1}, {"ph": None}) == {"ph"}
