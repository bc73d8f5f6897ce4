"""Benchmarks run in Home Assistant's own test harness (see bench/README.md)."""

import pytest

import custom_components  # noqa: F401  (the HA harness finds custom integrations through it)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/hydro_fleet."""
