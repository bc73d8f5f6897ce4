"""Fixtures shared by every test package."""

from pathlib import Path
import subprocess
import sys

import pytest

import custom_components  # noqa: F401  (the HA harness finds custom integrations through it)
from devtools.mosquitto import Mosquitto


@pytest.fixture
def mosquitto(socket_enabled):
    """A real Mosquitto broker on a free loopback port, stopped after the test.

    The HA test plugin blocks sockets in every test; ``socket_enabled`` lets this test
    talk to loopback (the plugin only ever allows 127.0.0.1).
    """
    with Mosquitto() as broker:
        yield broker


@pytest.fixture
def built_wheel(tmp_path: Path) -> Path:
    """The repository's wheel, built with ``pip wheel`` into the test's directory."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(Path(__file__).resolve().parent.parent),
        ],
        check=True,
        capture_output=True,
    )
    return next(tmp_path.glob("hydro_fleet-*.whl"))
