"""The community add-on linter's rules (frenck/action-addon-linter), as our own offline checks.

The linter validates config.yaml against a JSON schema (required keys, no unknown keys,
and no key set to its default value) plus a few extra rules; we write the same rules in
Python so `scripts/test` needs neither Docker nor the network. Our add-ons also build
for aarch64 and amd64 only, the architectures Home Assistant still supports.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

from .paths import check_mapping, load_document, rel

REQUIRED = ("name", "version", "slug", "description", "arch")
ARCHES = frozenset({"aarch64", "amd64"})
# Keys of the linter's config.schema.json with their defaults (None: no default).
KEYS: dict[str, Any] = {
    "advanced": False,
    "apparmor": True,
    "arch": None,
    "audio": False,
    "auth_api": False,
    "auto_uart": False,
    "backup": "hot",
    "backup_exclude": None,
    "backup_pre": None,
    "backup_post": None,
    "boot": "auto",
    "breaking_versions": None,
    "codenotary": None,
    "description": None,
    "devices": None,
    "devicetree": False,
    "discovery": None,
    "docker_api": False,
    "environment": None,
    "full_access": False,
    "gpio": False,
    "hassio_api": False,
    "hassio_role": "default",
    "homeassistant": None,
    "homeassistant_api": False,
    "host_dbus": False,
    "host_ipc": False,
    "host_network": False,
    "host_pid": False,
    "host_uts": False,
    "image": None,
    "ingress": False,
    "ingress_entry": None,
    "ingress_port": 8099,
    "ingress_stream": False,
    "init": True,
    "journald": False,
    "kernel_modules": False,
    "legacy": False,
    "machine": None,
    "map": None,
    "name": None,
    "options": {},
    "panel_admin": True,
    "panel_icon": "mdi:puzzle",
    "panel_title": None,
    "ports": None,
    "ports_description": None,
    "privileged": None,
    "realtime": False,
    "schema": {},
    "services": None,
    "slug": None,
    "stage": "stable",
    "startup": "application",
    "stdin": False,
    "timeout": 10,
    "tmpfs": False,
    "uart": False,
    "udev": False,
    "ulimits": {},
    "url": None,
    "usb": False,
    "version": None,
    "video": False,
    "watchdog": None,
    "webui": None,
}
ENUMS = {
    "boot": {"auto", "manual", "manual_only"},
    "startup": {"application", "initialize", "once", "services", "system"},
    "stage": {"deprecated", "experimental", "stable"},
    "backup": {"hot", "cold"},
    "hassio_role": {"admin", "backup", "default", "homeassistant", "manager"},
}
SERVICE = re.compile(r"^(mqtt|mysql):(provide|want|need)$")
BUILD_KEYS = frozenset({"build_from", "args", "labels", "squash", "codenotary"})


def check_addon_config(addon: Path) -> list[str]:
    return check_mapping(addon / "config.yaml", _config_problems)


def _config_problems(config: dict[str, Any], where: str) -> list[str]:
    problems = [f"{where}: required key '{key}' is missing" for key in REQUIRED if key not in config]
    for key, value in config.items():
        if key not in KEYS:
            problems.append(f"{where}: unknown key '{key}'")
        elif KEYS[key] is not None and value == KEYS[key] and type(value) is type(KEYS[key]):
            problems.append(f"{where}: '{key}' should be removed, it uses a default value ({value!r})")
        elif key in ENUMS and value not in ENUMS[key]:
            problems.append(f"{where}: '{key}' must be one of {sorted(ENUMS[key])}, is {value!r}")
    for key in ("name", "version", "slug", "description"):
        if key in config and not (isinstance(config[key], str) and config[key].strip()):
            problems.append(f"{where}: '{key}' must be a non-empty string")
    if "slug" in config and not re.fullmatch(r"[a-z0-9_]+", str(config["slug"])):
        problems.append(f"{where}: 'slug' must be lowercase [a-z0-9_]")
    arch = config.get("arch")
    if "arch" in config and not (isinstance(arch, list) and arch and set(arch) <= ARCHES):
        problems.append(f"{where}: 'arch' must be a non-empty list of {sorted(ARCHES)}, is {arch!r}")
    for service in config.get("services") or []:
        if not SERVICE.match(str(service)):
            problems.append(f"{where}: 'services' entry {service!r} must look like mqtt:need")
    # The linter's extra rules.
    if config.get("ingress") and config.get("webui"):
        problems.append(f"{where}: 'webui' should be removed, Ingress is enabled")
    if "auto_uart" in config:
        problems.append(f"{where}: 'auto_uart' is deprecated, use 'uart'")
    if any(":" in str(device) for device in config.get("devices") or []):
        problems.append(f"{where}: 'devices' uses the deprecated host:container format")
    if "watchdog" in config:
        problems.append(f"{where}: 'watchdog' is obsolete, use a Docker HEALTHCHECK")
    if "tmpfs" in config and not isinstance(config["tmpfs"], bool):
        problems.append(f"{where}: 'tmpfs' must be a boolean")
    schema, options = config.get("schema"), config.get("options")
    if isinstance(schema, dict) and isinstance(options, dict):
        problems += [f"{where}: 'options.{key}' has no entry in 'schema'" for key in options if key not in schema]
    return problems


def check_addon_build(addon: Path, arch: list[str] | None) -> list[str]:
    return check_mapping(addon / "build.yaml", lambda build, where: _build_problems(build, where, arch))


def _build_problems(build: dict[str, Any], where: str, arch: list[str] | None) -> list[str]:
    problems = [f"{where}: unknown key '{key}'" for key in build if key not in BUILD_KEYS]
    if build.get("squash") is False:
        problems.append(f"{where}: 'squash' should be removed, it uses a default value (False)")
    build_from = build.get("build_from")
    if isinstance(build_from, dict):
        if arch and set(build_from) != set(arch):
            problems.append(
                f"{where}: 'build_from' architectures {sorted(build_from)} differ from config.yaml's "
                f"'arch' {sorted(arch)}"
            )
    elif build_from is not None and not isinstance(build_from, str):
        problems.append(f"{where}: 'build_from' must be an image or a mapping of arch to image")
    return problems


def check_dockerfile(addon: Path) -> list[str]:
    path = addon / "Dockerfile"
    if not path.is_file():
        return [f"{rel(path)}: missing"]
    text = path.read_text(encoding="utf-8")
    problems = []
    # The base image must be stated, so a plain `docker build` works without the builder.
    if not re.search(r"^ARG BUILD_FROM=\S+", text, re.MULTILINE):
        problems.append(f"{rel(path)}: 'ARG BUILD_FROM=<image>' with a default base image is missing")
    if not re.search(r"^FROM \$\{?BUILD_FROM\}?", text, re.MULTILINE):
        problems.append(f"{rel(path)}: 'FROM $BUILD_FROM' is missing")
    return problems


def check_repository_yaml(root: Path) -> list[str]:
    path = root / "repository.yaml"
    data, problems = load_document(path)
    if data is None:
        return problems
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append(f"{rel(path)}: 'name' is required")
    problems += [f"{rel(path)}: unknown key '{key}'" for key in data or {} if key not in ("name", "url", "maintainer")]
    return problems


def check_addon(root: Path, addon: Path) -> list[str]:
    if not addon.is_dir():
        return [f"{rel(addon)}/: missing (the add-on folder with config.yaml, build.yaml and Dockerfile)"]
    config, _ = load_document(addon / "config.yaml")
    arch = config.get("arch") if isinstance(config, dict) else None
    return [
        *check_addon_config(addon),
        *check_addon_build(addon, arch),
        *check_dockerfile(addon),
        *check_repository_yaml(root),
    ]
