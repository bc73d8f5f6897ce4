"""LoRaWAN ingest: ChirpStack v4 HTTP integration events over real HTTP, SQLite and Mosquitto."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
import json
from pathlib import Path
import time
from typing import Any

import pytest

from devtools.mosquitto import Mosquitto
from hydro_fleet_protocol import NodeConfig, NodeKind, SensorType, State
from hydro_fleet_receiver.lorawan import lorawan_readings, parse_uplink
from hydro_fleet_receiver.publisher import MqttSettings
from hydro_fleet_receiver.storage import Store

from .conftest import Answer, Harness, full_sync, make_options, running
from .mqtt_helpers import Collector, wait_until

pytestmark = pytest.mark.usefixtures("backend")

TOKEN = "chirpstack-token-0123456789"
PATH = "/api/lorawan/chirpstack"
NODE = "hydro_fleet/lora-0004a30b001c0530"

# An "up" event as ChirpStack v4's HTTP integration posts it with the JSON marshaler
# (field names and nesting as in ChirpStack's integration.UplinkEvent), with a codec
# that decodes soil moisture, temperature and battery and one extra key we do not map.
UPLINK: dict[str, Any] = {
    "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
    "time": "2026-11-23T16:34:15.775023242+00:00",
    "deviceInfo": {
        "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
        "tenantName": "ChirpStack",
        "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
        "applicationName": "Greenhouse",
        "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
        "deviceProfileName": "Soil sensor EU868",
        "deviceName": "Bed 3 soil",
        "devEui": "0004a30b001c0530",
        "deviceClassEnabled": "CLASS_A",
        "tags": {"bed": "3"},
    },
    "devAddr": "00189440",
    "adr": True,
    "dr": 5,
    "fCnt": 42,
    "fPort": 2,
    "confirmed": False,
    "data": "AZ8AtgBX",
    "object": {"soil_moisture": 41.5, "temperature": 18.2, "battery": 87, "conductivity": 312},
    "rxInfo": [
        {
            "gatewayId": "0016c001f153a14c",
            "uplinkId": 4217106255,
            "nsTime": "2026-11-23T16:34:15.802931+00:00",
            "rssi": -97,
            "snr": 4.2,
            "channel": 2,
            "location": {},
            "context": "E3OWOQ==",
            "metadata": {"region_common_name": "EU868", "region_config_id": "eu868"},
            "crcStatus": "CRC_OK",
        },
        {
            "gatewayId": "0016c001f1500812",
            "uplinkId": 812047623,
            "rssi": -112,
            "snr": -6.5,
            "channel": 2,
            "context": "SIn4Ag==",
            "crcStatus": "CRC_OK",
        },
    ],
    "txInfo": {
        "frequency": 868500000,
        "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
    },
}
# A "join" event of the same device, posted to the same URL with ?event=join.
JOIN: dict[str, Any] = {
    "deduplicationId": "c9dbe358-2578-4fb7-b295-66b44edc45a6",
    "time": "2026-11-23T16:30:01.000000+00:00",
    "deviceInfo": UPLINK["deviceInfo"],
    "devAddr": "00189440",
}


def uplink(**object_changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(UPLINK)
    body["object"].update(object_changes)
    return body


async def post(
    h: Harness, body: dict[str, Any] | bytes, *, event: str | None = "up", headers: dict[str, str] | None = None
) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    merged = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"} | (headers or {})
    params = {} if event is None else {"event": event}
    return await Answer.of(await h.client.post(PATH, data=data, headers=merged, params=params))


def settings(broker: Mosquitto) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port)


async def test_uplink_becomes_a_node(mosquitto: Mosquitto, tmp_path: Path) -> None:
    options = make_options(lorawan_token=TOKEN)
    async with Collector(mosquitto) as live, running(tmp_path, options, mqtt=settings(mosquitto), login=False) as h:
        answer = await post(h, UPLINK)
        assert answer.status == 200, answer.json
        assert (answer.json["node_id"], answer.json["dev_eui"]) == ("lora-0004a30b001c0530", "0004a30b001c0530")
        # Answered after the commit: the device row exists as soon as the 200 is in.
        with h.db() as conn:
            row = conn.execute("SELECT node_id, f_cnt, online, seq FROM lorawan_devices").fetchone()
        assert tuple(row) == ("lora-0004a30b001c0530", 42, 1, 1)
        await live.wait_for(lambda: live.on(f"{NODE}/state"), what="LoRaWAN state")

        config = NodeConfig.parse(live.on(f"{NODE}/config")[0].payload)
        assert (config.node_id, config.kind, config.name, config.model) == (
            "lora-0004a30b001c0530",
            NodeKind.LORAWAN,
            "Bed 3 soil",
            "Soil sensor EU868",
        )
        assert config.extra == {"dev_eui": "0004a30b001c0530", "application": "Greenhouse"}
        sensors = {s.key: s for s in config.sensors}
        assert set(sensors) == {"soil_moisture", "temperature", "battery", "signal", "snr"}
        assert (sensors["soil_moisture"].type, sensors["soil_moisture"].unit) == (SensorType.MOISTURE, "%")
        assert sensors["temperature"].type == SensorType.TEMPERATURE
        assert sensors["battery"].type == SensorType.BATTERY
        assert (sensors["signal"].type, sensors["signal"].unit, sensors["signal"].diagnostic) == (
            SensorType.SIGNAL,
            "dBm",
            True,
        )
        assert (sensors["snr"].type, sensors["snr"].diagnostic) == (SensorType.COUNT, True)
        assert [m.payload for m in live.on(f"{NODE}/availability")] == [b"online"]

        state = State.parse(live.on(f"{NODE}/state")[0].payload)
        # The best-heard gateway gives signal and SNR; the unmapped "conductivity" is ignored.
        assert state.readings == {"soil_moisture": 41.5, "temperature": 18.2, "battery": 87, "signal": -97, "snr": 4.2}
        config.check_readings(state.readings)
        assert state.seq == 1
        assert state.ts == datetime(2026, 11, 23, 16, 34, 15, 775023, tzinfo=UTC).timestamp()

        # A second uplink: new state, same config (not re-sent), still online.
        assert (await post(h, uplink(soil_moisture=39.0, battery=86))).status == 200
        await live.wait_for(lambda: len(live.on(f"{NODE}/state")) == 2, what="second state")
        second = State.parse(live.on(f"{NODE}/state")[1].payload)
        assert (second.seq, second.readings["soil_moisture"], second.readings["battery"]) == (2, 39.0, 86)
        assert len(live.on(f"{NODE}/config")) == 1
        assert len(live.on(f"{NODE}/availability")) == 1
        await wait_until(lambda: h.count("outbox") == 0, what="outbox drained")

    # A late subscriber (Home Assistant starting later) gets config, availability and state retained.
    async with Collector(mosquitto) as late:
        await late.wait_for(lambda: late.on(f"{NODE}/state") and late.on(f"{NODE}/config"), what="retained")
        assert all(m.retain for m in late.messages if m.topic.startswith(NODE))
        assert NodeConfig.parse(late.on(f"{NODE}/config")[0].payload).name == "Bed 3 soil"
        assert State.parse(late.on(f"{NODE}/state")[0].payload).readings["soil_moisture"] == 39.0


async def test_uplink_survives_a_broker_outage(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The 200 means committed: with the broker down the messages wait in the outbox."""
    mosquitto.kill()
    options = make_options(lorawan_token=TOKEN)
    async with running(tmp_path, options, mqtt=settings(mosquitto), login=False) as h:
        assert (await post(h, UPLINK)).status == 200
        assert h.count("outbox") == 3  # config, availability, state
        mosquitto.start()
        await wait_until(lambda: h.count("outbox") == 0, what="drain after the broker came back")
    async with Collector(mosquitto) as late:
        await late.wait_for(lambda: late.on(f"{NODE}/state"), what="retained state after the outage")
        assert State.parse(late.on(f"{NODE}/state")[0].payload).readings["temperature"] == 18.2


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Authorization header at all
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer ünïcode-token-0123456789"},  # non-ASCII must be a 401, not a crash
    ],
)
async def test_wrong_or_missing_token_is_401(socket_enabled, tmp_path: Path, headers: dict[str, str]) -> None:
    async with running(tmp_path, make_options(lorawan_token=TOKEN), login=False) as h:
        before = h.snapshot()
        sent = {"Content-Type": "application/json"} | headers
        response = await h.client.post(PATH, params={"event": "up"}, data=json.dumps(UPLINK).encode(), headers=sent)
        answer = await Answer.of(response)
        assert answer.status == 401, answer.json
        assert answer.json["error"] == "unauthorized"
        assert TOKEN not in json.dumps(answer.json)
        assert h.snapshot() == before
        assert h.count("lorawan_devices") == 0 and h.count("outbox") == 0


async def test_bare_token_in_a_custom_header(socket_enabled, tmp_path: Path) -> None:
    """ChirpStack's integration sends any configured header; the token may come bare."""
    options = make_options(lorawan_token=TOKEN, lorawan_header="X-ChirpStack-Token")
    async with running(tmp_path, options, login=False) as h:
        # The default header is not looked at when another one is configured.
        assert (await post(h, UPLINK)).status == 401
        answer = await post(h, UPLINK, headers={"X-ChirpStack-Token": TOKEN})
        assert answer.status == 200, answer.json
        assert (await post(h, UPLINK, headers={"X-ChirpStack-Token": f"Bearer {TOKEN}"})).status == 200
        assert h.count("lorawan_devices") == 1


@pytest.mark.parametrize("event", ["join", "status", "ack", "txack", "log", "location", "integration"])
async def test_other_events_are_acknowledged_and_ignored(socket_enabled, tmp_path: Path, event: str) -> None:
    async with running(tmp_path, make_options(lorawan_token=TOKEN), login=False) as h:
        before = h.snapshot()
        response = await h.client.post(
            PATH,
            params={"event": event},
            data=json.dumps(JOIN).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status == 204
        assert h.snapshot() == before
        # Authentication still comes first for them.
        response = await h.client.post(
            PATH, params={"event": event}, data=json.dumps(JOIN).encode(), headers={"Content-Type": "application/json"}
        )
        assert response.status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        ({k: v for k, v in UPLINK.items() if k != "deviceInfo"}, "deviceInfo"),
        ({**UPLINK, "deviceInfo": {**UPLINK["deviceInfo"], "devEui": "not-an-eui"}}, "deviceInfo.devEui"),
        (uplink(soil_moisture="41.5"), "object.soil_moisture"),
        (uplink(soil_moisture=141.5), "object.soil_moisture"),
        (uplink(temperature=True), "object.temperature"),
        (uplink(battery=None) | {"rxInfo": [{"rssi": "-97", "snr": 4.2}]}, "rxInfo.0.rssi"),
        ({**UPLINK, "time": "yesterday"}, "time"),
    ],
)
async def test_malformed_uplink_is_400_naming_the_field(
    socket_enabled, tmp_path: Path, body: dict[str, Any] | bytes, field: str
) -> None:
    async with running(tmp_path, make_options(lorawan_token=TOKEN), login=False) as h:
        before = h.snapshot()
        answer = await post(h, body)
        assert answer.status == 400, answer.json
        assert answer.json["error"] == "invalid_payload"
        assert field in [e["field"] for e in answer.json["errors"]], answer.json
        assert h.snapshot() == before


async def test_missing_event_parameter_is_400(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path, make_options(lorawan_token=TOKEN), login=False) as h:
        answer = await post(h, UPLINK, event=None)
        assert answer.status == 400
        assert answer.json["errors"] == [{"field": "event", "message": "query parameter is required"}]
        assert h.count("lorawan_devices") == 0


@pytest.mark.parametrize("token", [None, ""])
async def test_disabled_without_a_token(socket_enabled, tmp_path: Path, token: str | None) -> None:
    """Left out of the options (the Supervisor's way) or empty: the route answers 404."""
    options = make_options() if token is None else make_options(lorawan_token=token)
    async with running(tmp_path, options, login=False) as h:
        before = h.snapshot()
        answer = await post(h, UPLINK)
        assert answer.status == 404
        assert answer.json["error"] == "not_found"
        assert h.snapshot() == before
        # The station API is unaffected.
        assert (await h.login()).status == 200
        assert (await h.post(full_sync())).status == 200


async def test_root_protections_apply(socket_enabled, tmp_path: Path) -> None:
    """Allowlist, body size, content type and rate limit guard this route like the sync route."""
    async with running(tmp_path, make_options(lorawan_token=TOKEN, allowed_ips=["10.9.9.0/24"]), login=False) as h:
        assert (await post(h, UPLINK)).status == 403
    async with running(tmp_path, make_options(lorawan_token=TOKEN, max_body_kb=1), login=False) as h:
        assert (await post(h, uplink(padding="x" * 2048))).status == 413
    async with running(tmp_path, make_options(lorawan_token=TOKEN, rate_limit_per_minute=2), login=False) as h:
        assert (await post(h, UPLINK, headers={"Content-Type": "application/octet-stream"})).status == 415
        assert [(await post(h, UPLINK)).status for _ in range(3)] == [200, 200, 429]


def test_documented_uplink_parses() -> None:
    """The example body in docs/receiver.md is a valid uplink with the documented readings."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "receiver.md").read_text(encoding="utf-8")
    example = doc.split("Body of an `up` event", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    parsed = parse_uplink(example.encode())
    assert parsed.dev_eui == "0004a30b001c0530"
    assert lorawan_readings(parsed) == {
        "soil_moisture": 41.5,
        "temperature": 18.2,
        "battery": 87,
        "signal": -97,
        "snr": 4.2,
    }


def test_silent_device_goes_offline_and_comes_back(store_target: str | Path) -> None:
    """The liveness sweep on the real database, with the LoRaWAN timeout apart from the stations'."""
    store = Store(store_target, "hydro_fleet")
    try:
        now = time.time()
        store.apply_uplink(parse_uplink(json.dumps(UPLINK).encode()), now - 1000)
        assert store.mark_stale(now, 60, 3600) == []
        assert store.mark_stale(now, 3600, 600) == ["lora-0004a30b001c0530"]
        assert store.mark_stale(now, 3600, 600) == []  # only once
        last = store.outbox_batch(100)[-1]
        assert (last.topic, last.payload, last.retain) == (f"{NODE}/availability", b"offline", True)
        store.apply_uplink(parse_uplink(json.dumps(UPLINK).encode()), now)
        rows = store.outbox_batch(100)[-2:]
        assert [(r.topic, r.payload if r.topic.endswith("availability") else b"") for r in rows] == [
            (f"{NODE}/availability", b"online"),
            (f"{NODE}/state", b""),
        ]
    finally:
        store.close()
