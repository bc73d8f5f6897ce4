"""Repair issues: raised when a problem appears, deleted when its cause goes."""

from __future__ import annotations

from datetime import timedelta
import time

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.hydro_fleet.const import DOMAIN

from .conftest import node_config, node_state, online_node, publish


def _issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    return {issue_id: issue for (domain, issue_id), issue in ir.async_get(hass).issues.items() if domain == DOMAIN}


async def _pass(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Move the clock on by ``delta`` and let HA's timers run."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_offline_node_raises_an_issue_after_the_configured_time(
    hass: HomeAssistant, setup_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "availability", "offline")
    await hass.async_block_till_done()
    await _pass(hass, freezer, timedelta(minutes=29))
    assert _issues(hass) == {}

    await _pass(hass, freezer, timedelta(minutes=2))
    issue = _issues(hass)["node_offline_pi-1"]
    assert issue.translation_key == "node_offline"
    assert issue.translation_placeholders == {"node": "pi-1", "node_id": "pi-1", "minutes": "30"}
    assert issue.severity is ir.IssueSeverity.WARNING

    publish(hass, "pi-1", "availability", "online")
    await hass.async_block_till_done()
    assert _issues(hass) == {}


async def test_a_short_outage_raises_nothing(
    hass: HomeAssistant, setup_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "availability", "offline")
    publish(hass, "pi-1", "availability", "online")
    await hass.async_block_till_done()
    await _pass(hass, freezer, timedelta(hours=2))
    assert _issues(hass) == {}


async def test_unknown_protocol_version_raises_an_issue_until_a_good_config(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    publish(hass, "pi-2", "config", '{"v": 3, "node_id": "pi-2", "kind": "pi"}')
    await hass.async_block_till_done()
    issue = _issues(hass)["unsupported_protocol_version_pi-2"]
    assert issue.translation_placeholders["version"] == "3"

    publish(hass, "pi-2", "config", node_config("pi-2"))
    publish(hass, "pi-2", "availability", "online")
    await hass.async_block_till_done()
    assert "unsupported_protocol_version_pi-2" not in _issues(hass)


async def test_two_machines_with_one_node_id_raise_a_duplicate_issue(
    hass: HomeAssistant, setup_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    publish(hass, "pi-1", "config", node_config(machine_id="aaaa"))
    publish(hass, "pi-1", "availability", "online")
    await hass.async_block_till_done()
    publish(hass, "pi-1", "config", node_config(machine_id="bbbb"))
    await hass.async_block_till_done()
    issue = _issues(hass)["duplicate_node_id_pi-1"]
    assert issue.translation_placeholders["machines"] == "aaaa, bbbb"

    # The user renamed one: after the window only "bbbb" keeps announcing pi-1.
    freezer.tick(timedelta(minutes=11))
    publish(hass, "pi-1", "config", node_config(machine_id="bbbb", sw_version="0.1.1"))
    await hass.async_block_till_done()
    assert "duplicate_node_id_pi-1" not in _issues(hass)


async def test_calibration_overdue_raises_and_clears(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    await online_node(hass, health={"last_calibration": time.time() - 45 * 86400})
    issue = _issues(hass)["calibration_overdue_pi-1"]
    assert issue.translation_placeholders["days"] == "45"

    publish(hass, "pi-1", "state", node_state(seq=2, health={"last_calibration": time.time() - 60}))
    await hass.async_block_till_done()
    assert "calibration_overdue_pi-1" not in _issues(hass)


async def test_calibration_becomes_overdue_with_time_alone(
    hass: HomeAssistant, setup_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An HA that runs for months sees the same calibration date every sample: a daily check."""
    calibrated = dt_util.utcnow().timestamp() - 29 * 86400  # the default limit is 30 days
    await online_node(hass, health={"last_calibration": calibrated})
    assert "calibration_overdue_pi-1" not in _issues(hass)
    # The node keeps reporting the same date; only time passes.
    publish(hass, "pi-1", "state", node_state(seq=2, health={"last_calibration": calibrated}))
    await hass.async_block_till_done()
    await _pass(hass, freezer, timedelta(hours=23))
    assert "calibration_overdue_pi-1" not in _issues(hass)
    await _pass(hass, freezer, timedelta(hours=2))  # the daily check, now past the 30th day
    assert _issues(hass)["calibration_overdue_pi-1"].translation_placeholders["days"] == "30"


async def test_calibration_limit_change_applies_at_once(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass, health={"last_calibration": dt_util.utcnow().timestamp() - 10 * 86400})
    assert "calibration_overdue_pi-1" not in _issues(hass)
    hass.config_entries.async_update_entry(setup_integration, options={"calibration_days": 7})
    await hass.async_block_till_done()
    assert "calibration_overdue_pi-1" in _issues(hass)
    hass.config_entries.async_update_entry(setup_integration, options={"calibration_days": 14})
    await hass.async_block_till_done()
    assert "calibration_overdue_pi-1" not in _issues(hass)


async def test_removing_a_node_clears_its_issues(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    await online_node(hass, health={"last_calibration": 1.0})
    assert "calibration_overdue_pi-1" in _issues(hass)
    publish(hass, "pi-1", "config", "")
    await hass.async_block_till_done()
    assert _issues(hass) == {}


async def test_issue_texts_are_translated(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    from homeassistant.helpers.translation import async_get_translations

    strings = await async_get_translations(hass, "en", "issues", [DOMAIN])
    for key in ("node_offline", "duplicate_node_id", "unsupported_protocol_version", "calibration_overdue"):
        assert strings[f"component.{DOMAIN}.issues.{key}.title"]
        assert strings[f"component.{DOMAIN}.issues.{key}.description"]
