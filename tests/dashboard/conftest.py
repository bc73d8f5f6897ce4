"""The integration's harness fixtures, for the dashboard tests."""

from tests.components.hydro_fleet.conftest import (  # noqa: F401  (fixtures, registered by import)
    auto_enable_custom_integrations,
    setup_integration,
)
