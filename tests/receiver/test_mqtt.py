"""Stations over MQTT as protocol v1 nodes, through a real Mosquitto, and the outbox across outages."""

from __future__ import annotations

import json
from pathlib import Path
import time

import pytest

from devtools.mosquitto import Mosquitto, free_port
from hydro_fleet_protocol import Event, NodeConfig, NodeKind, SensorType, State
from hydro_fleet_receiver.publisher import MqttSettings, superseded
from hydro_fleet_receiver.schema import parse_payload
from hydro_fleet_receiver.storage import OutboxRow, Store, SyncMeta

from .conftest import full_sync, returned, running
from .mqtt_helpers import Collector, wait_until

pytestmark = pytest.mark.usefixtures("backend")

STATION = "hydro_fleet/station-ps001"


def settings(broker: Mosquitto) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port)


async def test_full_sync_then_return_reach_mqtt(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with Collector(mosquitto) as live, running(tmp_path, mqtt=settings(mosquitto), metrics_interval=0.2) as h:
        assert (await h.post(full_sync())).status == 200
        await live.wait_for(lambda: live.on(f"{STATION}/state"), what="station state")
        config = NodeConfig.parse(live.on(f"{STATION}/config")[0].payload)
        assert (config.node_id, config.kind, config.name) == ("station-ps001", NodeKind.STATION, "Station PS001")
        sensors = {s.key: s for s in config.sensors}
        assert sensors["status"].options == ("online", "offline", "maintenance")
        assert sensors["last_heartbeat"].type == SensorType.TIMESTAMP
        assert sensors["total_slots"].type == SensorType.COUNT
        for n in (1, 2, 3):
            assert sensors[f"slot_{n}_status"].options == ("available", "occupied", "error")
            assert sensors[f"slot_{n}_power_bank"].type == SensorType.TEXT
            assert (sensors[f"slot_{n}_battery"].type, sensors[f"slot_{n}_battery"].unit) == (SensorType.COUNT, "%")
            for what, kind in (
                ("temperature", SensorType.TEMPERATURE),
                ("voltage", SensorType.VOLTAGE),
                ("current", SensorType.CURRENT),
            ):
                assert sensors[f"slot_{n}_{what}"].type == kind and sensors[f"slot_{n}_{what}"].diagnostic
        assert "slot_4_status" not in sensors
        assert [m.payload for m in live.on(f"{STATION}/availability")] == [b"online"]
        state = State.parse(live.on(f"{STATION}/state")[0].payload)
        readings = state.readings
        assert (readings["status"], readings["total_slots"]) == ("online", 3)
        assert isinstance(readings["last_heartbeat"], float) and abs(readings["last_heartbeat"] - time.time()) < 60
        assert (readings["slot_1_status"], readings["slot_1_power_bank"], readings["slot_1_battery"]) == (
            "occupied",
            "PB-1",
            80,
        )
        assert (readings["slot_1_temperature"], readings["slot_1_voltage"], readings["slot_1_current"]) == (
            26.5,
            4.12,
            0.8,
        )
        assert (readings["slot_2_status"], readings["slot_2_power_bank"], readings["slot_2_temperature"]) == (
            "available",
            None,
            None,
        )
        assert readings["slot_3_status"] is None  # never reported

        answer = await h.post(returned(bank="PB-9", slot=2, battery=45))
        assert answer.status == 200
        await live.wait_for(
            lambda: live.on(f"{STATION}/event") and len(live.on(f"{STATION}/state")) == 2, what="return event"
        )
        event = Event.parse(live.on(f"{STATION}/event")[0].payload)
        assert event.type == "power_bank_returned"
        assert event.data == {
            "station_serial": "PS001",
            "power_bank_serial": "PB-9",
            "slot_number": 2,
            "battery_level": 45,
            "request_id": answer.json["request_id"],
        }
        after = State.parse(live.on(f"{STATION}/state")[1].payload)
        assert after.seq == state.seq + 1
        assert (
            after.readings["slot_2_status"],
            after.readings["slot_2_power_bank"],
            after.readings["slot_2_battery"],
        ) == ("occupied", "PB-9", 45)
        # The config is not re-sent when the slots did not change.
        assert len(live.on(f"{STATION}/config")) == 1

        # The receiver is a node too, with its metrics.
        await live.wait_for(
            lambda: any(
                State.parse(m.payload).readings["accepted"] == 2 for m in live.on("hydro_fleet/receiver/state")
            ),
            what="receiver metrics",
        )
        receiver_config = NodeConfig.parse(live.on("hydro_fleet/receiver/config")[0].payload)
        assert receiver_config.kind == NodeKind.RECEIVER
        keys = {s.key for s in receiver_config.sensors}
        assert {
            "accepted",
            "rejected_signature",
            "success_rate",
            "latency_p50",
            "latency_p99",
            "last_sync",
            "outbox_backlog",
        } <= keys

    # A late subscriber gets the retained discovery and availability; the receiver, stopped
    # cleanly (no last will then), said "offline" itself.
    async with Collector(mosquitto) as late:
        await late.wait_for(lambda: late.on("hydro_fleet/receiver/availability"), what="receiver availability")
        assert late.on("hydro_fleet/receiver/availability")[0].payload == b"offline"
        await late.wait_for(
            lambda: late.on(f"{STATION}/config") and late.on(f"{STATION}/availability"), what="retained station topics"
        )
        assert late.on(f"{STATION}/config")[0].retain
        assert late.on(f"{STATION}/availability")[0].payload == b"online"
        # The last state is retained too: a station reports only every ~20 minutes.
        await late.wait_for(lambda: late.on(f"{STATION}/state"), what="retained state")
        retained = State.parse(late.on(f"{STATION}/state")[0].payload)
        assert retained.seq == after.seq and retained.readings["slot_2_power_bank"] == "PB-9"


async def test_outbox_drains_after_a_broker_outage(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with running(tmp_path, mqtt=settings(mosquitto)) as h:
        assert (await h.post(full_sync())).status == 200
        await wait_until(lambda: h.count("outbox") == 0, what="first drain")
        mosquitto.kill()
        for i in range(5):
            assert (await h.post(returned(serial="PS777", bank=f"PB-{i}", slot=i + 1))).status == 200
        # Nothing can be acknowledged while the broker is gone, so every row is still queued:
        # 5 events + 5 states + availability of the new station + 5 configs (each return
        # names a higher slot than the station had, so its discovery grows each time).
        assert h.count("outbox") == 16
        mosquitto.start()
        await wait_until(lambda: h.count("outbox") == 0, what="drain after the broker came back")
        assert h.ctx.publisher is not None and h.ctx.publisher.connected
    async with Collector(mosquitto) as late:
        await late.wait_for(lambda: late.on("hydro_fleet/station-ps777/config"), what="retained config")
        config = NodeConfig.parse(late.on("hydro_fleet/station-ps777/config")[0].payload)
        assert len([s for s in config.sensors if s.key.endswith("_status") and s.key != "status"]) == 5


async def test_outbox_published_in_order_after_restart(mosquitto: Mosquitto, tmp_path: Path) -> None:
    mosquitto.kill()
    answers = []
    async with running(tmp_path, mqtt=settings(mosquitto)) as h:
        for i in range(10):
            answer = await h.post(returned(bank=f"PB-{i:02d}", slot=1 + i % 4, battery=10 + i))
            assert answer.status == 200
            answers.append(answer.json["request_id"])
    mosquitto.start()
    async with Collector(mosquitto) as live:
        async with running(tmp_path, mqtt=settings(mosquitto), login=False):

            def drained() -> bool:
                states = live.on(f"{STATION}/state")
                return (
                    len(live.on(f"{STATION}/event")) == 10
                    and bool(states)
                    and State.parse(states[-1].payload).seq == 10
                )

            await live.wait_for(drained, what="10 queued events and the last state")
        events = [Event.parse(m.payload) for m in live.on(f"{STATION}/event")]
    # Every event, in order; of the station's retained states only the newest needs to go
    # out (all 25 rows are one batch here, so the 9 older states are skipped).
    assert [e.data["request_id"] for e in events] == answers
    assert [e.data["power_bank_serial"] for e in events] == [f"PB-{i:02d}" for i in range(10)]
    states = [State.parse(m.payload) for m in live.on(f"{STATION}/state")]
    assert [s.seq for s in states] == [10]
    assert states[0].readings["slot_2_power_bank"] == "PB-09"


def test_only_superseded_retained_states_are_skipped() -> None:
    def row(i: int, kind: str, node: str = "station-a", retain: bool = True) -> OutboxRow:
        return OutboxRow(i, f"hydro_fleet/{node}/{kind}", b"", retain)

    rows = [
        row(1, "config"),
        row(2, "state"),
        row(3, "event", retain=False),
        row(4, "state", node="station-b"),
        row(5, "config"),
        row(6, "state"),
        row(7, "availability"),
        row(8, "state", node="station-c", retain=False),
        row(9, "state", node="station-c", retain=False),
    ]
    # Station a's first state (a later one follows); events, configs, availability, the
    # last state of each node and anything not retained all go out.
    assert superseded(rows) == {2}
    assert superseded(rows[:3]) == set()


async def test_success_rate_problem_for_repairs(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with Collector(mosquitto) as live, running(tmp_path, mqtt=settings(mosquitto), metrics_interval=0.2) as h:
        assert (await h.post(full_sync())).status == 200
        assert (await h.post(returned(), secret="wrong-secret-1234567")).status == 403

        def unhealthy() -> bool:
            return any(
                State.parse(m.payload).problems.get("success_rate") == "below_target"
                for m in live.on("hydro_fleet/receiver/state")
            )

        await live.wait_for(unhealthy, what="success rate problem")
        last = State.parse(live.on("hydro_fleet/receiver/state")[-1].payload)
        assert last.readings["success_rate"] == 50.0
        assert last.readings["rejected_signature"] == 1


def test_silent_station_goes_offline_and_comes_back(store_target: str | Path) -> None:
    """The liveness sweep on the real database (the app runs it every station_timeout/4)."""
    store = Store(store_target, "hydro_fleet")
    try:
        now = time.time()

        def meta(i: int, at: float) -> SyncMeta:
            return SyncMeta(
                request_id=f"r{i}",
                signature=f"s{i}",
                header_ts=int(at),
                body_sha256="x",
                idempotency_key=None,
                received=at,
            )

        store.apply(parse_payload(json.dumps(full_sync()).encode()), meta(1, now - 100))
        assert store.mark_stale(now, 300) == []
        assert store.mark_stale(now, 60) == ["station-ps001"]
        assert store.mark_stale(now, 60) == []  # only once
        last = store.outbox_batch(100)[-1]
        assert (last.topic, last.payload, last.retain) == ("hydro_fleet/station-ps001/availability", b"offline", True)
        store.apply(parse_payload(json.dumps(returned()).encode()), meta(2, now))
        topics = [r.topic.rsplit("/", 1)[1] for r in store.outbox_batch(100)]
        assert topics[-3:] == ["event", "availability", "state"]
        assert store.outbox_batch(100)[-2].payload == b"online"
        # Sync log retention: rows older than 30 days go, newer ones stay.
        assert store.prune(now + 30 * 86400 - 50) == 1  # only the first sync, received at now - 100
        assert store.prune(now + 30 * 86400 + 10) == 1
        assert store.station_count() == 1
    finally:
        store.close()


async def test_broker_members_are_tried_in_turn(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """``--mqtt-host a:1,b:2`` (a broker cluster): a member that refuses is skipped."""
    dead = f"127.0.0.1:{free_port()}"
    mqtt = MqttSettings(host=f"{dead},{mosquitto.host}:{mosquitto.port}")
    async with Collector(mosquitto) as live, running(tmp_path, mqtt=mqtt) as h:
        assert (await h.post(full_sync())).status == 200
        await live.wait_for(
            lambda: bool(live.on("hydro_fleet/station-ps001/state")), what="the state via the live member"
        )
