"""Signed-sync receiver for the charging-station Java gateway (the Hydro Fleet add-on).

The gateway logs in with JWT, signs each POST with HMAC-SHA256 and sends station
snapshots (``full``) and power bank returns (``returned``). The receiver verifies each
request, commits it to one SQLite database before answering 200, and publishes stations
as protocol v1 nodes over MQTT through a transactional outbox. See ``docs/receiver.md``.
"""

__version__ = "0.1.0"
