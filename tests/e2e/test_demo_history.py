"""The demo's day of history: queued on a simulated Pi, backfilled through the real path, shown as statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3

from devtools.bridges import BridgeProcess
from devtools.demo import prime_nodes
from devtools.homeassistant import HomeAssistant
from devtools.mosquitto import Mosquitto, free_port

HOURS = 3


def test_queued_history_reaches_the_statistics_through_the_bridges_backfill(socket_enabled, tmp_path: Path):
    broker = Mosquitto(workdir=tmp_path / "mosquitto")
    hass = HomeAssistant(tmp_path / "ha", free_port(), integrations=("recorder",), log_level="warning")
    bridge = BridgeProcess("pi-1", broker.port, tmp_path / "bridges", interval=1.0, area="Greenhouse")
    try:
        broker.start()
        samples = prime_nodes([bridge], broker.port, HOURS)
        assert samples == HOURS * 60
        hass.start_with_mqtt(broker.port, "tester", "tester-password")
        hass.accept_discovery()
        # The retained config made the entities before the bridge ran: unavailable until it comes.
        hass.wait_for(lambda: hass.state("sensor.pi_1_ph") == "unavailable", 60, "the primed node's sensors")
        bridge.start()
        start = (datetime.now(UTC) - timedelta(hours=HOURS + 1)).isoformat()

        def hours_imported() -> list[dict]:
            result = hass.ws_command(
                {
                    "type": "recorder/statistics_during_period",
                    "start_time": start,
                    "statistic_ids": ["sensor.pi_1_ph", "sensor.pi_1_moisture"],
                    "period": "hour",
                    "types": ["mean", "min", "max"],
                }
            )
            rows = result.get("sensor.pi_1_moisture", [])
            return rows if len(rows) >= HOURS and len(result.get("sensor.pi_1_ph", [])) >= HOURS else []

        rows = hass.wait_for(hours_imported, 60, "the backfilled hours in the statistics", interval=1)
        # Whole past hours only (the recorder compiles the running one), with plausible values.
        assert all(0 <= row["min"] <= row["mean"] <= row["max"] <= 100 for row in rows)
        # Delivered, so gone from the node's queue (rows leave it only on the broker's ack).
        with sqlite3.connect(bridge.workdir / "pi-1" / "queue.sqlite3") as queue:
            assert queue.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 0
        device = next(d for d in hass.ws_command({"type": "config/device_registry/list"}) if d["name"] == "pi-1")
        assert device["area_id"] == "greenhouse"
    except BaseException:
        print("---- hass log ----\n" + hass.log_tail())
        print("---- bridge log ----\n" + bridge.log()[-2000:])
        raise
    finally:
        bridge.stop()
        hass.stop()
        broker.stop()
