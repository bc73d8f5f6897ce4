"""Constants of the Hydro Fleet integration."""

from typing import Final

DOMAIN: Final = "hydro_fleet"
CONF_PREFIX: Final = "prefix"
# How long a command waits for the node's ack before it counts as failed. A node acks
# within milliseconds on a healthy LAN; 10 s covers a Pi busy writing to its SD card.
COMMAND_TIMEOUT: Final = 10.0


def signal_node_discovered(entry_id: str) -> str:
    """Dispatcher signal sent with a Node when it is discovered or its config changes."""
    return f"{DOMAIN}_{entry_id}_node_discovered"
