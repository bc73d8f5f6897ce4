"""Fixtures shared by every test package."""

from pathlib import Path
import subprocess
import sys

import pytest

import custom_components  # noqa: F401  (the HA harness finds custom integrations through it)
import custom_components.hydro_fleet.protocol as protocol

# One copy of the protocol per test run. The Pi bridge and the receiver import it as
# hydro_fleet_protocol (the wheel's name), the integration as its own subpackage; loaded
# twice, the same dataclass from the two copies would never compare equal. So that name
# is made the integration's package, before anything imports it.
for _module in [name for name in sys.modules if name.startswith(protocol.__name__)]:
    sys.modules[_module.replace(protocol.__name__, "hydro_fleet_protocol", 1)] = sys.modules[_module]

from devtools.mosquitto import Mosquitto  # noqa: E402  (after the protocol's one name)


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
