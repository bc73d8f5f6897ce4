"""The published machine id: application-specific, never /etc/machine-id itself; one per simulated node."""

from __future__ import annotations

from pi_bridge.config import load_config
from pi_bridge.identity import APP_ID, app_specific_id, machine_id

# From `systemd-id128 machine-id --app-specific=6a1c0e3f9b5d4e27a8f1c2d3b4e5f607` on a
# machine whose /etc/machine-id was 0123456789abcdef0123456789abcdef (bind-mounted).
SYSTEMD_MACHINE_ID = "0123456789abcdef0123456789abcdef"
SYSTEMD_APP_SPECIFIC = "0444a36d1cee43a09ed559b03e9232b8"


def test_derivation_is_systemds_app_specific_id():
    assert APP_ID.hex() == "6a1c0e3f9b5d4e27a8f1c2d3b4e5f607"
    assert app_specific_id(SYSTEMD_MACHINE_ID) == SYSTEMD_APP_SPECIFIC


def test_a_pi_publishes_a_derived_id_not_its_machine_id(tmp_path):
    etc = tmp_path / "machine-id"
    etc.write_text(SYSTEMD_MACHINE_ID.upper() + "\n")
    published = machine_id(etc, tmp_path / "state")
    assert published == SYSTEMD_APP_SPECIFIC
    assert SYSTEMD_MACHINE_ID not in published
    # Derived again at every start, nothing of it stored.
    assert machine_id(etc, tmp_path / "state") == published
    assert not (tmp_path / "state" / "machine-id").exists()


def test_an_unreadable_machine_id_falls_back_to_one_kept_in_the_state_dir(tmp_path):
    etc = tmp_path / "machine-id"
    etc.write_text("not an id\n")
    first = machine_id(etc, tmp_path / "state")
    assert len(first) == 32 and int(first, 16) >= 0
    assert machine_id(tmp_path / "missing", tmp_path / "state") == first


def test_each_simulated_node_has_its_own_id(tmp_path):
    configs = [
        load_config(None, {"simulate": True, "node_id": f"pi-{n}", "state_dir": str(tmp_path / f"pi-{n}")})
        for n in (1, 2)
    ]
    # A simulated node never reads the host's /etc/machine-id: it is a machine of its own.
    assert all(c.machine_id_source is None for c in configs)
    ids = [machine_id(c.machine_id_source, c.state_dir) for c in configs if c.state_dir]
    assert ids[0] != ids[1]
    # Kept across restarts of the same node.
    assert machine_id(None, tmp_path / "pi-1") == ids[0]
    real = load_config(None, {"node_id": "pi-1"})
    assert str(real.machine_id_source) == "/etc/machine-id"
