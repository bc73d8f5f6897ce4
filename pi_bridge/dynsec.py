"""The fleet's users and roles in Mosquitto's dynamic security plugin file.

The plugin (``mosquitto_dynamic_security.so``, Debian ships it) keeps clients, roles and
default access in one JSON file. ``provision --dynsec FILE`` merges the fleet into that
file: a client and a role per node, a role for Home Assistant's user, and nothing else
touched, so a broker's other clients, roles and groups keep working. Every role this
module owns is named ``hydro-fleet-...``; only those are replaced on a rerun.

The plugin reads the file when Mosquitto starts and rewrites it on every change made
with ``mosquitto_ctrl``, so edit it with Mosquitto stopped, then start it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
import pwd
import secrets
from typing import Any

from .broker_acl import Access, Rule
from .settings import ConfigError

ROLE_PREFIX = "hydro-fleet-"
# Mosquitto's own tools (mosquitto_passwd, mosquitto_ctrl) use PBKDF2-SHA512 with 101
# iterations; the passwords provision makes are 192 random bits, so a slow hash adds no
# protection, only CPU per CONNECT.
_ITERATIONS = 101
# What ``mosquitto_ctrl dynsec init`` writes: nothing may publish or subscribe without a role.
_DEFAULT_ACCESS = {"publishClientSend": False, "publishClientReceive": True, "subscribe": False, "unsubscribe": True}
_ALLOW_PRIORITY, _DENY_PRIORITY = 10, 0
_ACL_TYPES = {
    Access.WRITE: ("publishClientSend",),
    Access.READ: ("subscribePattern", "publishClientReceive"),
    Access.READWRITE: ("publishClientSend", "subscribePattern", "publishClientReceive"),
}

Doc = dict[str, Any]


def hash_password(password: str) -> dict[str, Any]:
    """The plugin's stored form of a password: base64 PBKDF2-SHA512 over a random salt."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS, 64)
    encode = base64.b64encode
    return {"password": encode(digest).decode(), "salt": encode(salt).decode(), "iterations": _ITERATIONS}


def password_matches(client: dict[str, Any], password: str) -> bool:
    """True if ``client`` (an entry of the file) logs in with ``password``."""
    try:
        salt = base64.b64decode(client["salt"])
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(client["iterations"]), 64)
        return hmac.compare_digest(base64.b64encode(digest).decode(), str(client["password"]))
    except (KeyError, TypeError, ValueError):
        return False


def read_passwd_hashes(path: Path) -> dict[str, dict[str, Any]]:
    """Users of a ``mosquitto_passwd`` file (``user:$7$iterations$salt$hash``) in the plugin's form.

    Both store PBKDF2-SHA512 with a base64 salt, so a user keeps its password without
    anyone knowing it. Older ``$6$`` (plain SHA512) lines cannot be carried over.
    """
    users: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read password file {path}: {err.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, _, stored = line.partition(":")
        fields = stored.split("$")
        if len(fields) != 5 or fields[1] != "7" or not fields[2].isdigit():
            raise ConfigError(f"{path}:{number}: user {user!r} has no PBKDF2 hash ($7$); run mosquitto_passwd -U")
        users[user] = {"password": fields[4], "salt": fields[3], "iterations": int(fields[2])}
    return users


def role_acls(rules: list[Rule]) -> list[dict[str, Any]]:
    """The plugin's ACL entries for ``rules``; a deny is checked before the allows it narrows."""
    return [
        {
            "acltype": acltype,
            "topic": rule.topic,
            "priority": _ALLOW_PRIORITY if rule.allow else _ALLOW_PRIORITY + 1,
            "allow": rule.allow,
        }
        for rule in rules
        for acltype in _ACL_TYPES[rule.access]
    ]


def confined_role_acls(rules: list[Rule]) -> list[dict[str, Any]]:
    """``rules`` and a deny of everything else, so the role holds on a broker whose default is to allow."""
    deny_rest = [
        {"acltype": acltype, "topic": "#", "priority": _DENY_PRIORITY, "allow": False}
        for acltype in ("publishClientSend", "subscribePattern")
    ]
    return role_acls(rules) + deny_rest


def load(path: Path) -> Doc:
    """The plugin's file, or a new one with ``mosquitto_ctrl dynsec init``'s default access."""
    if not path.exists():
        return {"clients": [], "groups": [], "roles": [], "defaultACLAccess": dict(_DEFAULT_ACCESS)}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read the dynamic security file {path}: {err}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} is not a dynamic security file")
    for key in ("clients", "groups", "roles"):
        doc.setdefault(key, [])
    return doc


def find_client(doc: Doc, username: str) -> dict[str, Any] | None:
    return next((c for c in doc["clients"] if c.get("username") == username), None)


def set_role(doc: Doc, rolename: str, acls: list[dict[str, Any]]) -> None:
    """Create or replace one of the fleet's roles."""
    doc["roles"] = [r for r in doc["roles"] if r.get("rolename") != rolename]
    doc["roles"].append({"rolename": rolename, "acls": acls})


def set_client(doc: Doc, username: str, stored_password: dict[str, Any] | None, roles: list[str]) -> None:
    """Create a client or update one: a new password if given, and ``roles`` as its fleet roles.

    Roles that are not the fleet's (``hydro-fleet-...``) stay on the client. Earlier
    roles come first: the plugin checks a client's roles by priority, highest first.
    """
    client = find_client(doc, username)
    if client is None:
        client = {"username": username, "roles": []}
        doc["clients"].append(client)
    if stored_password is not None:
        client.update(stored_password)
    kept = [r for r in client.get("roles", []) if not str(r.get("rolename", "")).startswith(ROLE_PREFIX)]
    ours = [{"rolename": name, "priority": len(roles) - i} for i, name in enumerate(roles)]
    client["roles"] = ours + kept


def save(path: Path, doc: Doc, owner: str = "mosquitto") -> None:
    """Write the file 0600 for the broker's user (the plugin rewrites it), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle, indent=1)
    if os.geteuid() == 0:
        _chown_to(tmp, owner)
    os.replace(tmp, path)


def _chown_to(path: Path, user: str) -> None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)
