"""Every protocol message round-trips; bad messages give a clear error."""

import json
import sys

import pytest

from hydro_fleet_protocol import (
    Ack,
    Backfill,
    Command,
    CommandAction,
    Event,
    NodeConfig,
    ProtocolError,
    PumpState,
    Sample,
    SensorConfig,
    SensorType,
    State,
    TopicKind,
    UnsupportedVersionError,
    encode,
    parse_topic,
)
from tests.pi_node import pi_node_config

CONFIG = pi_node_config(
    name="Greenhouse",
    sample_interval=5.0,
    sensors=(
        SensorConfig("tds", SensorType.TDS, unit="ppm", minimum=0, maximum=5000, precision=0),
        SensorConfig("ph", SensorType.PH, precision=2),
    ),
    plans=(),
)


@pytest.mark.parametrize(
    ("message", "parser"),
    [
        (CONFIG, NodeConfig.parse),
        (
            State(
                ts=1.5,
                seq=3,
                readings={"tds": 812.0, "ph": None},
                problems={"ph": "out_of_range"},
                pumps={"pump": PumpState(on=True, until=31.5)},
                health={"uptime": 12},
            ),
            State.parse,
        ),
        (
            Backfill(
                samples=(Sample(ts=1.0, seq=1, readings={"tds": 1.0}), Sample(ts=2.0, seq=2, readings={"tds": 2.0}))
            ),
            Backfill.parse,
        ),
        (Event(ts=3.0, type="pump_stopped", data={"pump": "pump", "reason": "deadline"}), Event.parse),
        (Command(id="c1", action=CommandAction.PUMP_ON, target="pump", params={"duration": 5}), Command.parse),
        (Ack(id="c1", ok=True, result={"duration": 5, "clipped": False}), Ack.parse),
        (Ack(id="c2", ok=False, code="water_low", message="water level 3 % is below 5 %"), Ack.parse),
    ],
)
def test_round_trip(message, parser) -> None:
    assert parser(encode(message)) == message


def test_config_encoding_is_compact() -> None:
    payload = json.loads(encode(CONFIG))
    assert payload["v"] == 1
    assert "hw_version" not in payload  # None fields are left out


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"ts": 1, "seq": 1}', "'v' (protocol version) is missing"),
        (b'{"v": 1, "seq": 1, "readings": {}}', "'ts' is missing"),
        (b'{"v": 1, "ts": "now", "seq": 1}', "'ts' must be a number"),
        (b'{"v": 1, "ts": 1, "seq": 1, "readings": {"tds": [1]}}', "reading 'readings.tds'"),
        (b'{"v": 1, "ts": 1, "seq": 1, "readings": {"tds": NaN}}', "not a finite number"),
        (b'{"v": 1, "ts": 1, "seq": 1, "readings": {"tds": 1e400}}', "not a finite number"),
        (b'{"v": 1, "ts": 1, "seq": 1, "readings": {"Bad Key": 1}}', "invalid key"),
        (b'{"v": 1, "ts": 1, "seq": 1, "pumps": {"pump": {"on": "yes"}}}', "'pumps.pump.on' must be true or false"),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
        (b" " * 300000, "over the"),
    ],
)
def test_bad_state_is_rejected_with_a_clear_error(payload: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        State.parse(payload)


def test_unknown_version_is_its_own_error() -> None:
    with pytest.raises(UnsupportedVersionError) as info:
        State.parse(b'{"v": 2, "ts": 1, "seq": 1}')
    assert info.value.version == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"kind": "toaster"}, "expected one of: pi, station"),
        ({"node_id": "Pi 1"}, "field 'node_id' must be lowercase"),
        ({"sensors": [{"key": "x", "type": "tds"}, {"key": "x", "type": "ph"}]}, "duplicate keys"),
        ({"sensors": [{"key": "x", "type": "radiation"}]}, r"sensors\[0\].type"),
        ({"pumps": [{"key": "p"}]}, r"pumps\[0\].max_runtime' is missing"),
        ({"pumps": [{"key": "p", "max_runtime": -1}]}, "must be >= 0.1"),
    ],
)
def test_bad_config_is_rejected(change: dict, error: str) -> None:
    payload = json.loads(encode(CONFIG)) | change
    with pytest.raises(ProtocolError, match=error):
        NodeConfig.parse(json.dumps(payload))


def test_ack_error_needs_a_code() -> None:
    with pytest.raises(ProtocolError, match="'code' is missing"):
        Ack.parse(b'{"v": 1, "id": "c1", "ok": false}')


def test_command_action_must_be_known() -> None:
    with pytest.raises(ProtocolError, match="'action' is 'explode'"):
        Command.parse(b'{"v": 1, "id": "c1", "action": "explode"}')


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("hydro_fleet/pi-1/state", ("pi-1", TopicKind.STATE)),
        ("hydro_fleet/pi-1/config", ("pi-1", TopicKind.CONFIG)),
        ("hydro_fleet/pi-1/nope", None),
        ("hydro_fleet/Pi 1/state", None),
        ("other/pi-1/state", None),
        ("hydro_fleetx/pi-1/state", None),
        ("hydro_fleet/pi-1/state/extra", None),
    ],
)
def test_parse_topic(topic: str, expected) -> None:
    assert parse_topic("hydro_fleet", topic) == expected


def test_readings_are_checked_against_the_sensor_types() -> None:
    CONFIG.check_readings({"tds": 800, "ph": None, "unknown_key": "x"})
    with pytest.raises(ProtocolError, match=r"reading 'readings.ph' of a ph sensor must be int or float, not str"):
        CONFIG.check_readings({"ph": "acid"})
    with pytest.raises(ProtocolError, match="not bool"):
        CONFIG.check_readings({"tds": True})


def test_one_copy_of_the_protocol_per_test_run() -> None:
    # The bridge and receiver import hydro_fleet_protocol, the integration its own subpackage.
    import custom_components.hydro_fleet.protocol as integration_protocol
    import hydro_fleet_protocol
    from hydro_fleet_protocol import validation

    assert hydro_fleet_protocol is integration_protocol
    assert validation is sys.modules["custom_components.hydro_fleet.protocol.validation"]
    assert hydro_fleet_protocol.State(ts=1, seq=1, readings={}) == integration_protocol.State(ts=1, seq=1, readings={})
