"""Bad config files give one clear error naming the key; check-config masks secrets."""

from __future__ import annotations

import pytest

from pi_bridge.config import load_config
from pi_bridge.settings import ConfigError, node_id_from_hostname

from .helpers import run_cli


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        (
            "pumps:\n  - key: pump\n    max_runtime: -1\n",
            ".yaml",
            "key 'pumps.0.max_runtime': Input should be greater than 0",
        ),
        ("probes:\n  tds:\n    gain: 3\n", ".yaml", "key 'probes.tds.gain': Value error, gain must be one of 2/3"),
        ("probes:\n  ph:\n    channel: 4\n", ".yaml", "key 'probes.ph.channel'"),
        ("timezone: Mars/Olympus\n", ".yaml", "unknown time zone 'Mars/Olympus'"),
        ("probes:\n  water_level:\n    mode: float_switch\n", ".yaml", "needs 'pin'"),
        ("broker:\n  password: x\n", ".yaml", "password is set but username is not"),
        ("broker:\n  ca_file: /x.pem\n", ".yaml", "ca_file '/x.pem' is not a readable file"),
        (f"broker:\n  ca_file: {__file__}\n", ".yaml", "tls is false"),
        ("node_id: Pi 7\n", ".yaml", "key 'node_id': String should match pattern"),
        ("pumps:\n  - key: a\n  - key: a\n", ".yaml", "pump keys must be unique"),
        ("sample_interval = 'fast'\n", ".toml", "key 'sample_interval': Input should be a valid number"),
        ("colour: blue\n", ".yaml", "key 'colour': Extra inputs are not permitted"),
        ("pumps: [\n", ".yaml", "not valid YAML"),
        ("x = = 1\n", ".toml", "not valid TOML"),
        ("- a\n- b\n", ".yaml", "the top level must be a mapping"),
    ],
)
def test_bad_config_files(tmp_path, text, suffix, expected):
    path = tmp_path / f"bridge{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_and_hostname_ids(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")
    assert node_id_from_hostname("Pi-7.local") == "pi-7"
    with pytest.raises(ConfigError, match="set 'node_id'"):
        node_id_from_hostname("my_pi!")


def test_check_config_masks_secrets_and_bad_files_exit_2(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("node_id: pi-3\nbroker:\n  username: pi-3\n  password: s3cret-Value\n")
    shown = run_cli("check-config", "--config", str(good))
    assert shown.returncode == 0, shown.stderr
    assert "s3cret-Value" not in shown.stdout + shown.stderr
    assert '"password": "**********"' in shown.stdout
    assert "effective node id: pi-3" in shown.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text("[broker]\nport = 70000\n")
    result = run_cli("run", "--config", str(bad))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"hydro-fleet-bridge: {bad}: key 'broker.port': Input should be less than or "
        "equal to 65535"
    )


def test_pumps_off_reads_only_what_it_needs(tmp_path):
    # A config broken elsewhere must not stop the safety command from driving the relays off.
    config = tmp_path / "bridge.yaml"
    config.write_text(
        f"state_dir: {tmp_path}\nsimulate: true\ncolour: blue\npumps:\n  - pin: 5\n  - pin: 6\n    active_high: false\n"
    )
    (tmp_path / "gpio").mkdir()
    (tmp_path / "gpio" / "5").write_text("1")
    result = run_cli("pumps-off", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gpio" / "5").read_text() == "0"
    assert (tmp_path / "gpio" / "6").read_text() == "1"  # active-low relay: off is high
    config.write_text("pumps:\n  - pin: 99\n")
    result = run_cli("pumps-off", "--config", str(config))
    assert result.returncode == 2
    assert "pumps.0.pin" in result.stderr


def test_zero_touch_picks_this_nodes_file_from_a_directory(tmp_path, monkeypatch):
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    for n in (1, 2, 3):
        (nodes / f"pi-{n}.yaml").write_text(f"node_id: pi-{n}\nsample_interval: {n}\n")
    monkeypatch.setattr("socket.gethostname", lambda: "pi-2")
    config = load_config(nodes)
    assert config.effective_node_id == "pi-2" and config.sample_interval == 2
    assert load_config(nodes, {"node_id": "pi-3"}).sample_interval == 3  # --node-id wins over the hostname
    monkeypatch.setattr("socket.gethostname", lambda: "pi-42")
    with pytest.raises(ConfigError, match="has no config for node 'pi-42'"):
        load_config(nodes)
