"""``hydro-fleet-bridge provision``: broker credentials, access rules and a config file per node.

Run on the HA/broker side. For each node (``pi-7``, or a batch ``pi-1..pi-99``) it
creates a random password and gives the broker the node's rules (``broker_acl.py``: a
node writes only its own topics). Two ways to hand them to Mosquitto:

- ``--dynsec FILE``: merged into the dynamic security plugin's file (``dynsec.py``), next
  to the broker's other users; ``--keep-users-of`` carries the users of the broker's
  password file over (Debian's Mosquitto, a broker shared with zigbee2mqtt);
- otherwise a password file and an ``acl_file`` (the Mosquitto add-on's convention, or a
  broker that serves only the fleet), readable by the broker's group.

Either way ``<out>/hydro-fleet.conf`` holds the lines for Mosquitto's ``conf.d``.
Existing nodes keep their password unless ``--rotate`` is given. Each node's config file
is written with mode 0600 under ``<out>/nodes/``; copy it to the Pi as
``/etc/hydro-fleet/bridge.yaml``.
"""

from __future__ import annotations

import argparse
import glob
import grp
import logging
import os
from pathlib import Path
import re
import secrets
import subprocess

import yaml

from hydro_fleet_protocol import DEFAULT_PREFIX, is_valid_node_id

from . import dynsec
from .broker_acl import acl_file_text, controller_rules, kept_user_rules, node_rules
from .settings import ConfigError
from .store import read_json, write_json

_LOGGER = logging.getLogger(__name__)
_RANGE = re.compile(r"^([a-z][a-z0-9_-]*?)(\d+)\.\.(?:\1)?(\d+)$")
_PLUGIN_GLOBS = ("/usr/lib/*/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so")
_HA_ROLE = f"{dynsec.ROLE_PREFIX}home-assistant"
_KEPT_ROLE = f"{dynsec.ROLE_PREFIX}kept-user"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("nodes", nargs="+", help="node ids: pi-7, a batch pi-1..pi-99, or several")
    parser.add_argument("--out", type=Path, required=True, help="directory for secrets, broker files and nodes/")
    parser.add_argument("--broker-host", required=True, help="broker address the nodes connect to")
    parser.add_argument("--broker-port", type=int, default=1883)
    parser.add_argument("--prefix", default=DEFAULT_PREFIX)
    parser.add_argument("--rotate", action="store_true", help="give the listed nodes new passwords")
    parser.add_argument("--ha-user", default="homeassistant", help="broker user of Home Assistant")
    parser.add_argument("--tls", action="store_true", help="nodes connect with TLS")
    parser.add_argument("--ca-file", type=Path, help="CA certificate path on the nodes (with --tls)")
    parser.add_argument("--mosquitto-passwd", default="/usr/bin/mosquitto_passwd")
    parser.add_argument("--broker-group", default="mosquitto", help="group the broker reads its files as")
    parser.add_argument("--acl-include", type=Path, help="acl_file stanzas of the broker's other users, kept")
    parser.add_argument("--dynsec", type=Path, help="merge into this dynamic security plugin file instead")
    parser.add_argument("--dynsec-plugin", help="path of mosquitto_dynamic_security.so (default: found)")
    parser.add_argument("--keep-users-of", type=Path, help="with --dynsec: the broker's password file to carry over")
    parser.add_argument("-v", "--verbose", action="store_true")


def expand_nodes(specs: list[str]) -> list[str]:
    """``["pi-1..pi-3", "lab"]`` -> ``["pi-1", "pi-2", "pi-3", "lab"]``; ConfigError on a bad id."""
    nodes: list[str] = []
    for spec in specs:
        match = _RANGE.match(spec)
        if match:
            prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            if last < first or last - first > 9999:
                raise ConfigError(f"node range {spec!r} must go upwards and hold at most 10000 nodes")
            nodes += [f"{prefix}{n}" for n in range(first, last + 1)]
        else:
            nodes.append(spec)
    for node in nodes:
        if not is_valid_node_id(node):
            raise ConfigError(f"{node!r} is not a valid node id (lowercase letters, digits, '-', '_')")
    return list(dict.fromkeys(nodes))


def acl_text(prefix: str, nodes: list[str], ha_user: str) -> str:
    """The ``acl_file`` for ``nodes`` and Home Assistant's user (no other users)."""
    return acl_file_text(prefix, nodes, ha_user)


def write_password_file(path: Path, secrets_by_user: dict[str, str], mosquitto_passwd: str, group: str) -> None:
    """Plain ``user:password`` lines written 0600, hashed in place by ``mosquitto_passwd -U``, then 0640."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{user}:{password}\n" for user, password in sorted(secrets_by_user.items()))
    try:
        # The binary is the operator's own --mosquitto-passwd; no shell, no secret in argv.
        subprocess.run([mosquitto_passwd, "-U", str(tmp)], check=True, capture_output=True, timeout=120)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"mosquitto_passwd failed: {err}") from None
    share_with_broker(tmp, group)
    os.replace(tmp, path)


def share_with_broker(path: Path, group: str) -> None:
    """Mode 0640 and the broker's group: Mosquitto reads these files after dropping to its own user."""
    try:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    except KeyError:
        # No such group (the add-on's container, a broker under another name): the
        # broker reads the file as its owner.
        os.chmod(path, 0o600)
        return
    except PermissionError:
        _LOGGER.warning("%s: cannot give it to group %r (not root); Mosquitto may not read it", path, group)
    os.chmod(path, 0o640)


def node_config(node: str, password: str, args: argparse.Namespace) -> dict[str, object]:
    broker: dict[str, object] = {
        "host": args.broker_host,
        "port": args.broker_port,
        "username": node,
        "password": password,
    }
    if args.tls:
        broker["tls"] = True
        if args.ca_file:
            broker["ca_file"] = str(args.ca_file)
    return {"node_id": node, "prefix": args.prefix, "broker": broker}


def _find_plugin(explicit: str | None) -> str:
    if explicit:
        return explicit
    for pattern in _PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise ConfigError("mosquitto_dynamic_security.so not found; name it with --dynsec-plugin")


def merge_into_dynsec(args: argparse.Namespace, known: dict[str, str], nodes: list[str], renew: set[str]) -> str:
    """Put the fleet into the plugin's file; return the broker lines. ``known`` gets HA's password if new."""
    path: Path = args.dynsec
    doc = dynsec.load(path)
    fleet = {user for user in known if user != args.ha_user} | set(nodes)
    kept = dynsec.read_passwd_hashes(args.keep_users_of) if args.keep_users_of else {}
    for user, stored in kept.items():
        if user not in fleet and dynsec.find_client(doc, user) is None:
            roles = [_HA_ROLE, _KEPT_ROLE] if user == args.ha_user else [_KEPT_ROLE]
            dynsec.set_client(doc, user, stored, roles)
    dynsec.set_role(doc, _KEPT_ROLE, dynsec.role_acls(kept_user_rules(args.prefix)))
    dynsec.set_role(doc, _HA_ROLE, dynsec.role_acls(controller_rules()))
    ha = dynsec.find_client(doc, args.ha_user)
    if ha is None:
        known.setdefault(args.ha_user, secrets.token_urlsafe(24))
        dynsec.set_client(doc, args.ha_user, dynsec.hash_password(known[args.ha_user]), [_HA_ROLE])
    else:
        if args.ha_user in known and not dynsec.password_matches(ha, known[args.ha_user]):
            del known[args.ha_user]  # HA logs in with a password of its own; keep no stale copy
        roles = [r["rolename"] for r in ha.get("roles", []) if str(r.get("rolename")).startswith(dynsec.ROLE_PREFIX)]
        dynsec.set_client(doc, args.ha_user, None, [_HA_ROLE, *(r for r in roles if r != _HA_ROLE)])
    for node in sorted(user for user in known if user != args.ha_user):
        role = f"{dynsec.ROLE_PREFIX}node-{node}"
        dynsec.set_role(doc, role, dynsec.confined_role_acls(node_rules(args.prefix, node)))
        exists = dynsec.find_client(doc, node) is not None
        password = dynsec.hash_password(known[node]) if node in renew or not exists else None
        dynsec.set_client(doc, node, password, [role])
    dynsec.save(path, doc)
    plugin = _find_plugin(args.dynsec_plugin)
    return f"plugin {plugin}\nplugin_opt_config_file {path.resolve()}\n"


def write_acl_files(args: argparse.Namespace, known: dict[str, str]) -> str:
    """Password file and ``acl_file`` for the broker; return the broker lines."""
    out: Path = args.out
    known.setdefault(args.ha_user, secrets.token_urlsafe(24))
    write_password_file(out / "passwd", known, args.mosquitto_passwd, args.broker_group)
    include = args.acl_include.read_text() if args.acl_include else ""
    all_nodes = sorted(user for user in known if user != args.ha_user)
    acl = out / "acl"
    acl.write_text(acl_file_text(args.prefix, all_nodes, args.ha_user, include))
    share_with_broker(acl, args.broker_group)
    return f"allow_anonymous false\npassword_file {(out / 'passwd').resolve()}\nacl_file {acl.resolve()}\n"


def run_provision(args: argparse.Namespace) -> int:
    nodes = expand_nodes(args.nodes)
    if not is_valid_node_id(args.ha_user) and not args.ha_user.isidentifier():
        raise ConfigError(f"--ha-user {args.ha_user!r} is not a usable user name")
    if args.ha_user in nodes:
        raise ConfigError(f"--ha-user {args.ha_user!r} must not also be a node id")
    if args.keep_users_of and not args.dynsec:
        raise ConfigError("--keep-users-of needs --dynsec")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "nodes").mkdir(exist_ok=True)
    os.chmod(out / "nodes", 0o700)
    secrets_path = out / "secrets.json"
    # The plain passwords are kept (0600) so configs can be rewritten; the broker only gets hashes.
    known: dict[str, str] = {k: v for k, v in read_json(secrets_path).items() if isinstance(v, str)}
    created = [node for node in nodes if node not in known]
    rotated = [node for node in nodes if node in known and args.rotate]
    for node in created + rotated:
        known[node] = secrets.token_urlsafe(24)
    if args.dynsec:
        broker_lines = merge_into_dynsec(args, known, nodes, set(created + rotated))
    else:
        broker_lines = write_acl_files(args, known)
    write_json(secrets_path, known)
    os.chmod(secrets_path, 0o600)
    conf = out / "hydro-fleet.conf"
    conf.write_text("# Generated by hydro-fleet-bridge provision: copy to /etc/mosquitto/conf.d/\n" + broker_lines)
    for node in nodes:
        path = out / "nodes" / f"{node}.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(node_config(node, known[node], args), handle, sort_keys=False)
    # Names only: passwords never go to the terminal or a log.
    print(f"{len(nodes)} node(s) in {out}: {len(created)} new user(s), {len(rotated)} rotated")
    if args.dynsec:
        print(f"broker: {args.dynsec} updated; with Mosquitto stopped, copy {conf} to /etc/mosquitto/conf.d/")
    else:
        print(f"broker: copy {conf} to /etc/mosquitto/conf.d/ (or its lines to your config); reload Mosquitto")
    if args.ha_user in known:
        print(f"Home Assistant user {args.ha_user!r}: password in {secrets_path}")
    else:
        print(f"Home Assistant user {args.ha_user!r}: keeps its password")
    return 0
