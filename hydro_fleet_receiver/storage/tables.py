"""The tables, written once in SQLite's dialect; PostgreSQL gets them through ``postgres_ddl``."""

from __future__ import annotations

SCHEMA_VERSION = 1
# Sync log rows are kept this long (an audit trail, and Idempotency-Key answers); replay
# protection only needs the timestamp window, which is at most an hour.
SYNC_LOG_DAYS = 30
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stations(
    serial TEXT PRIMARY KEY,
    node_id TEXT NOT NULL UNIQUE,
    status TEXT,
    last_heartbeat REAL,
    total_slots INTEGER NOT NULL DEFAULT 0,
    last_seen REAL NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    config_slots INTEGER NOT NULL DEFAULT -1,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS slots(
    station TEXT NOT NULL REFERENCES stations(serial),
    slot_number INTEGER NOT NULL,
    status TEXT,
    power_bank TEXT,
    battery INTEGER,
    PRIMARY KEY(station, slot_number)
) WITHOUT ROWID;
-- A returned power bank leaves the slot it was in before: found by serial, not by a scan.
CREATE INDEX IF NOT EXISTS slots_power_bank ON slots(power_bank) WHERE power_bank IS NOT NULL;
CREATE TABLE IF NOT EXISTS power_banks(
    serial TEXT PRIMARY KEY,
    station TEXT,
    slot_number INTEGER,
    battery INTEGER,
    status TEXT,
    temperature REAL,
    voltage REAL,
    current REAL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS return_events(
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    power_bank TEXT NOT NULL,
    slot_number INTEGER NOT NULL,
    battery INTEGER NOT NULL,
    event_ts INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE(station, power_bank, slot_number, event_ts)
);
CREATE TABLE IF NOT EXISTS sync_log(
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    received REAL NOT NULL,
    type TEXT NOT NULL,
    station TEXT NOT NULL,
    signature TEXT NOT NULL UNIQUE,
    header_ts INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    body_sha256 TEXT NOT NULL,
    result TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_log_header_ts ON sync_log(header_ts);
CREATE INDEX IF NOT EXISTS sync_log_received ON sync_log(received);
CREATE TABLE IF NOT EXISTS outbox(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lorawan_devices(
    dev_eui TEXT PRIMARY KEY,
    node_id TEXT NOT NULL UNIQUE,
    config BLOB NOT NULL,
    readings TEXT NOT NULL,
    f_cnt INTEGER,
    last_seen REAL NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens(
    jti TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
-- One request rate limit per client shared by every replica (GCRA: the theoretical
-- arrival time of the next request); a single process keeps it in memory instead.
CREATE TABLE IF NOT EXISTS rate_limits(
    client TEXT PRIMARY KEY,
    tat REAL NOT NULL
);
"""

# SQLite's rowid aliases and storage classes, as PostgreSQL spells them (64-bit integers:
# timestamps in milliseconds and ids outgrow 32 bits).
_POSTGRES_TYPES = (
    ("id INTEGER PRIMARY KEY AUTOINCREMENT", "id BIGSERIAL PRIMARY KEY"),
    ("id INTEGER PRIMARY KEY", "id BIGSERIAL PRIMARY KEY"),
    (" WITHOUT ROWID", ""),
    (" INTEGER", " BIGINT"),
    (" REAL", " DOUBLE PRECISION"),
    (" BLOB", " BYTEA"),
)


def postgres_ddl() -> str:
    ddl = SCHEMA
    for sqlite, postgres in _POSTGRES_TYPES:
        ddl = ddl.replace(sqlite, postgres)
    return ddl
