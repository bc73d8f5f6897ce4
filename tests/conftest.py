"""Fixtures shared by every test package."""

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
