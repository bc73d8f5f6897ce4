"""The fleet dashboard against real entities: every card's entity exists, the tables render.

The entities come from MQTT messages in HA's test harness (three Pis, a station and the
receiver, as in the demo), so a renamed entity or a broken template fails here rather
than on a user's screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.template import Template
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from hydro_fleet_protocol import CameraConfig, Event
from tests.blueprints.stations import online_receiver, online_station
from tests.components.hydro_fleet.conftest import node_config, online_node, publish

DASHBOARD = Path(__file__).parents[2] / "dashboards" / "hydro_fleet.yaml"


def cards(node: Any) -> Iterator[dict[str, Any]]:
    """Every card of the dashboard, nested ones included."""
    if isinstance(node, dict):
        if "type" in node and ("entity" in node or "entities" in node or "content" in node or "target" in node):
            yield node
        for value in node.values():
            yield from cards(value)
    elif isinstance(node, list):
        for item in node:
            yield from cards(item)


def referenced_entities(card: dict[str, Any]) -> list[str]:
    found = [card["entity"]] if "entity" in card else []
    found += [e if isinstance(e, str) else e["entity"] for e in card.get("entities", [])]
    found += card.get("target", {}).get("entity_id", [])
    return found


def markdown(dashboard: dict[str, Any], view: str) -> str:
    (view_config,) = [v for v in dashboard["views"] if v["path"] == view]
    (card,) = [c for c in cards(view_config) if c["type"] == "markdown"]
    return card["content"]


@pytest.fixture
def dashboard() -> dict[str, Any]:
    return yaml.safe_load(DASHBOARD.read_text())


@pytest.fixture
async def fleet(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    await online_node(hass, "pi-1")
    await online_node(hass, "pi-2", ph=6.8, tds=1300.0)
    await online_node(hass, "pi-3", ph=4.1, pump_on=True)
    for node in ("pi-1", "pi-2", "pi-3"):  # the demo's Pis have a camera
        publish(hass, node, "config", node_config(node, cameras=(CameraConfig("plant", "Plant", 3600),)))
    online_station(hass)
    online_receiver(hass, 97.5)
    await hass.async_block_till_done()


def test_only_core_cards(dashboard: dict[str, Any]) -> None:
    types = {card["type"] for card in cards(dashboard)}
    assert types <= {"markdown", "gauge", "tile", "history-graph", "logbook", "heading", "picture-entity"}, types
    assert not any(t.startswith("custom:") for t in types)
    assert [v["title"] for v in dashboard["views"]] == ["Fleet", "Photos", "History", "Pumps", "Stations"]


async def test_every_card_entity_exists(hass: HomeAssistant, fleet: None, dashboard: dict[str, Any]) -> None:
    missing = sorted({e for card in cards(dashboard) for e in referenced_entities(card) if hass.states.get(e) is None})
    assert not missing, f"{DASHBOARD.name} names entities the fleet does not have: {missing}"


async def test_fleet_table_has_every_node_with_status_colours(
    hass: HomeAssistant, fleet: None, dashboard: dict[str, Any]
) -> None:
    publish(hass, "pi-3", "availability", "offline")
    await hass.async_block_till_done()
    table = Template(markdown(dashboard, "fleet"), hass).async_render().splitlines()

    assert table[0] == "| Node | Status | pH | TDS ppm | EC µS/cm | Moisture % | Water level % | Water °C |"
    rows = {line.split("|")[1].strip(): line for line in table[2:]}
    assert list(rows) == ["**pi-1**", "**pi-2**", "**pi-3**"], "in node order; stations and the receiver have no row"
    green, orange = '<font color="#2e7d32"><b>● {}</b></font>', '<font color="#ef6c00"><b>● {}</b></font>'
    assert rows["**pi-1**"].startswith(f"| **pi-1** | online | {green.format('6.1')} | {green.format('700.0')} |")
    red = green.replace("#2e7d32", "#c62828")
    assert orange.format("6.8") in rows["**pi-2**"] and red.format("1300.0") in rows["**pi-2**"]
    assert rows["**pi-3**"].startswith('| **pi-3** | <font color="#c62828">offline</font> | <font color="#9e9e9e">–')


async def test_pump_table_falls_back_to_the_switch_without_reports(
    hass: HomeAssistant, fleet: None, dashboard: dict[str, Any]
) -> None:
    table = Template(markdown(dashboard, "pumps"), hass).async_render().splitlines()
    assert len(table) == 5
    assert table[2].startswith("| **pi-1 Pump** | off | no report yet; pump changed")
    assert table[4].startswith('| **pi-3 Pump** | <font color="#0277bd"><b>running</b></font> |')


async def test_station_table_shows_slot_occupancy(hass: HomeAssistant, fleet: None, dashboard: dict[str, Any]) -> None:
    text = Template(markdown(dashboard, "stations"), hass).async_render()
    assert "### Station PS-001: 1 of 2 slots occupied" in text
    # Translated states, as on the device page; an empty slot shows no battery, not a dash with a % sign.
    assert '| 1 | <font color="#2e7d32"><b>■ Available</b></font> | – | – |' in text
    assert '| 2 | <font color="#0277bd"><b>■ Occupied</b></font> | PB-2 | 40 % |' in text


def test_gauges_give_way_to_tiles_while_a_node_is_offline(dashboard: dict[str, Any]) -> None:
    """A gauge of an unavailable entity is a yellow warning box with the raw id; a tile says "Unavailable"."""
    (fleet_view,) = [v for v in dashboard["views"] if v["path"] == "fleet"]
    gauges = [c for c in cards(fleet_view) if c["type"] == "gauge"]
    assert len(gauges) == 6
    for gauge in gauges:
        assert gauge["visibility"] == [{"condition": "state", "entity": gauge["entity"], "state_not": "unavailable"}]
        (tile,) = [c for c in cards(fleet_view) if c["type"] == "tile" and c["entity"] == gauge["entity"]]
        assert tile["visibility"] == [{"condition": "state", "entity": gauge["entity"], "state": "unavailable"}]


async def test_pump_table_shows_the_last_watering_report(
    hass: HomeAssistant, fleet: None, dashboard: dict[str, Any]
) -> None:
    publish(
        hass,
        "pi-1",
        "event",
        Event(
            ts=1_700_000_100.0,
            type="watering_report",
            data={
                "pump": "pump",
                "volume_ml": 200,
                "duration": 20,
                "moisture_before": 28.5,
                "moisture_after": 41.0,
                "reason": "moisture",
            },
        ),
    )
    await hass.async_block_till_done()
    assert hass.states.get("event.pi_1_watering").attributes["event_type"] == "watering_report"
    table = Template(markdown(dashboard, "pumps"), hass).async_render().splitlines()
    assert table[2].startswith("| **pi-1 Pump** | off |")
    assert table[2].endswith("| 200 ml | 28.5 → 41.0 % | moisture |")
