"""Backfilled readings become hourly long-term statistics in the recorder, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import async_wait_recording_done

from custom_components.hydro_fleet.const import CONF_PREFIX, DOMAIN
from custom_components.hydro_fleet.statistics import HourSummary
from hydro_fleet_protocol import Backfill, Sample

from .conftest import online_node, publish


@pytest.fixture(autouse=True)
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Set the recorder up before hass (HA's harness requires that order)."""


@pytest.fixture
async def fleet_with_recorder(
    recorder_mock: Recorder, hass: HomeAssistant, mqtt_mock: Any, freezer: FrozenDateTimeFactory
) -> MockConfigEntry:
    # Mid-hour, so that "the running hour" cannot change during a test.
    freezer.move_to(dt_util.utcnow().replace(minute=30, second=0, microsecond=0))
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _hour(hours_ago: int) -> datetime:
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


def _samples(start: datetime, seq0: int, values: list[float]) -> tuple[Sample, ...]:
    return tuple(
        Sample(ts=(start + timedelta(minutes=10 * i)).timestamp(), seq=seq0 + i, readings={"ph": v, "tds": 700.0})
        for i, v in enumerate(values)
    )


async def _stats(hass: HomeAssistant) -> list[dict[str, Any]]:
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, _hour(10), None, {"sensor.pi_1_ph"}, "hour", None, {"mean", "min", "max"}
    )
    return [
        {
            "start": datetime.fromtimestamp(row["start"], UTC),
            "mean": round(row["mean"], 4),
            "min": row["min"],
            "max": row["max"],
        }
        for row in result.get("sensor.pi_1_ph", [])
    ]


async def test_backfill_fills_hours_once_and_merges_partial_batches(
    hass: HomeAssistant, fleet_with_recorder: MockConfigEntry
) -> None:
    await online_node(hass)
    two_hours_ago, three_hours_ago = _hour(2), _hour(3)
    first = Backfill(samples=_samples(three_hours_ago, 10, [6.0, 6.2, 6.4]) + _samples(two_hours_ago, 20, [5.8]))
    publish(hass, "pi-1", "backfill", first)
    await hass.async_block_till_done()
    assert await _stats(hass) == [
        {"start": three_hours_ago, "mean": 6.2, "min": 6.0, "max": 6.4},
        {"start": two_hours_ago, "mean": 5.8, "min": 5.8, "max": 5.8},
    ]

    # The same batch again (the node did not see our ack) changes nothing...
    publish(hass, "pi-1", "backfill", first)
    # ...and a second batch for an hour already imported merges with the first.
    publish(hass, "pi-1", "backfill", Backfill(samples=_samples(two_hours_ago + timedelta(minutes=30), 30, [6.2])))
    await hass.async_block_till_done()
    assert await _stats(hass) == [
        {"start": three_hours_ago, "mean": 6.2, "min": 6.0, "max": 6.4},
        {"start": two_hours_ago, "mean": 6.0, "min": 5.8, "max": 6.2},
    ]


async def test_backfill_merges_with_what_was_imported_before_a_restart(
    hass: HomeAssistant, fleet_with_recorder: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    await online_node(hass)
    two_hours_ago = _hour(2)
    publish(hass, "pi-1", "backfill", Backfill(samples=_samples(two_hours_ago, 20, [5.8, 6.0])))
    await hass.async_block_till_done()

    # HA restarts (the entry unloads and sets up again, reading back what it stored).
    assert await hass.config_entries.async_reload(fleet_with_recorder.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{fleet_with_recorder.entry_id}.backfill" in hass_storage
    await online_node(hass)
    # The rest of the hour, starting with the last sample again (its ack was lost).
    rest = _samples(two_hours_ago + timedelta(minutes=10), 21, [6.0, 6.4, 6.6])
    publish(hass, "pi-1", "backfill", Backfill(samples=rest))
    await hass.async_block_till_done()
    assert await _stats(hass) == [{"start": two_hours_ago, "mean": 6.2, "min": 5.8, "max": 6.6}]

    # Removing the entry removes what it stored.
    assert await hass.config_entries.async_remove(fleet_with_recorder.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{fleet_with_recorder.entry_id}.backfill" not in hass_storage


def test_hour_summary_merges_each_sequence_number_once() -> None:
    summary = HourSummary()
    for seq, value in [(5, 1.0), (7, 3.0), (6, 2.0), (1, 4.0), (6, 99.0), (2, 5.0), (3, 6.0)]:
        summary.add(seq, value)
    assert summary.runs == [[1, 3], [5, 7]]
    assert (summary.count, summary.total, summary.low, summary.high) == (6, 21.0, 1.0, 6.0)
    assert not summary.add(2, 0.0)
    assert summary.add(4, 0.0)
    assert summary.runs == [[1, 7]]


async def test_backfill_skips_implausible_values_and_the_running_hour(
    hass: HomeAssistant, fleet_with_recorder: MockConfigEntry
) -> None:
    await online_node(hass)
    publish(
        hass,
        "pi-1",
        "backfill",
        Backfill(
            samples=(
                *_samples(_hour(4), 1, [6.1, 99.0]),  # pH 99 is outside the sensor's 0-14
                *_samples(_hour(0), 5, [6.3]),
            )
        ),
    )
    await hass.async_block_till_done()
    assert await _stats(hass) == [{"start": _hour(4), "mean": 6.1, "min": 6.1, "max": 6.1}]


async def test_malformed_backfill_imports_nothing(hass: HomeAssistant, fleet_with_recorder: MockConfigEntry) -> None:
    await online_node(hass)
    bad = {"v": 1, "samples": [{"ts": _hour(3).timestamp(), "seq": 1, "readings": {"ph": "acid"}}]}
    publish(hass, "pi-1", "backfill", bad)
    await hass.async_block_till_done()
    assert await _stats(hass) == []
