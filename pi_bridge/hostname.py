"""Node ids taken from the hostname: warn when the hostname is one every machine has."""

from __future__ import annotations

import logging

_LOGGER = logging.getLogger(__name__)

# Hostnames an OS image or a container gives every machine: as node ids, every Pi flashed
# from the same image (or every container) would be the same node.
GENERIC_HOSTNAMES = frozenset(
    {"localhost", "raspberrypi", "raspberry", "pi", "dietpi", "ubuntu", "debian", "orangepi", "rockpi", "armbian"}
)
_warned: set[str] = set()


def warn_if_generic(node_id: str) -> None:
    """Log once per process when ``node_id``, read from the hostname, is such a default."""
    if node_id in GENERIC_HOSTNAMES and node_id not in _warned:
        _warned.add(node_id)
        _LOGGER.warning(
            "node id %r comes from the hostname, a default every machine from the same image has; "
            "set 'node_id' in the config file or give this Pi its own hostname (pi-N)",
            node_id,
        )
