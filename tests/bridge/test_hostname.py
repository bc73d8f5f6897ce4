"""A node id taken from a hostname every machine has (raspberrypi, localhost) is warned about."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import pytest

from pi_bridge import hostname
from pi_bridge.config import node_id_from_hostname

from .helpers import ROOT


def test_generic_hostnames_warn_once(caplog, monkeypatch):
    monkeypatch.setattr(hostname, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="pi_bridge.hostname"):
        assert node_id_from_hostname("raspberrypi") == "raspberrypi"
        assert node_id_from_hostname("RaspberryPi.local") == "raspberrypi"
        assert node_id_from_hostname("localhost") == "localhost"
        assert node_id_from_hostname("pi-7") == "pi-7"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings
    assert "'raspberrypi' comes from the hostname" in warnings[0] and "node_id" in warnings[0]
    assert "'localhost'" in warnings[1]


# Skipped only on a developer's machine without root; CI runs as root and must run it.
@pytest.mark.skipif(
    (os.geteuid() != 0 or not shutil.which("unshare")) and not os.environ.get("CI"),
    reason="needs root and unshare for a hostname",
)
def test_bridge_on_a_default_hostname_says_so():
    """The real CLI on a machine named ``raspberrypi`` (a private UTS namespace): one warning line."""
    script = f"hostname raspberrypi && exec {sys.executable} -m pi_bridge check-config --simulate"
    result = subprocess.run(
        ["unshare", "--uts", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "effective node id: raspberrypi" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "comes from the hostname" in line]
    assert len(lines) == 1 and "WARNING" in lines[0]
