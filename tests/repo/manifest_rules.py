"""hassfest's manifest rules for a custom integration, and HACS's hacs.json rules, offline.

Each check returns a list of problems, each naming the file and the key, so a failing
test says what to fix. hassfest itself needs a checkout of Home Assistant core, which CI
cannot fetch; these are its rules for custom integrations, written against HA 2026.2.
"""

from __future__ import annotations

from pathlib import Path
import struct
import tomllib
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy

from .paths import check_mapping, rel

# hassfest's manifest schema for custom integrations (script/hassfest/manifest.py).
MANIFEST_KEYS = frozenset(
    {
        "domain",
        "name",
        "after_dependencies",
        "bluetooth",
        "codeowners",
        "config_flow",
        "dependencies",
        "dhcp",
        "disabled",
        "documentation",
        "homekit",
        "import_executor",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "loggers",
        "mqtt",
        "quality_scale",
        "requirements",
        "single_config_entry",
        "ssdp",
        "usb",
        "version",
        "zeroconf",
    }
)
# What HACS and hassfest require of a custom integration's manifest.
MANIFEST_REQUIRED = (
    "domain",
    "name",
    "version",
    "documentation",
    "issue_tracker",
    "codeowners",
    "iot_class",
    "integration_type",
    "dependencies",
    "requirements",
)
IOT_CLASSES = frozenset({"assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push"})
INTEGRATION_TYPES = frozenset({"device", "entity", "hardware", "helper", "hub", "service", "system", "virtual"})
VERSION_STRATEGIES = [
    AwesomeVersionStrategy.CALVER,
    AwesomeVersionStrategy.SEMVER,
    AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER,
    AwesomeVersionStrategy.PEP440,
]
LIST_KEYS = ("after_dependencies", "codeowners", "dependencies", "loggers", "mqtt", "requirements")

# hacs.json keys HACS knows (hacs/integration's repository manifest).
HACS_KEYS = frozenset(
    {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "hacs",
        "persistent_directory",
        "render_readme",
    }
)


def check_manifest(integration: Path) -> list[str]:
    return check_mapping(
        integration / "manifest.json",
        lambda manifest, where: _manifest_problems(manifest, where, integration),
        "a JSON object",
    )


def _manifest_problems(manifest: dict[str, Any], where: str, integration: Path) -> list[str]:
    problems = [f"{where}: required key '{key}' is missing" for key in MANIFEST_REQUIRED if key not in manifest]
    problems += [f"{where}: unknown key '{key}'" for key in manifest if key not in MANIFEST_KEYS]
    keys = list(manifest)
    expected = [k for k in ("domain", "name") if k in manifest] + sorted(k for k in keys if k not in ("domain", "name"))
    if keys != expected:
        problems.append(f"{where}: keys must be domain, name, then alphabetical: expected {expected}, got {keys}")
    if manifest.get("domain") != integration.name:
        problems.append(f"{where}: 'domain' is {manifest.get('domain')!r}, the folder is {integration.name!r}")
    if "version" in manifest:
        version = manifest["version"]
        if not isinstance(version, str) or not _valid_version(version):
            problems.append(f"{where}: 'version' {version!r} is not a valid version (CalVer, SemVer, PEP 440...)")
    if "iot_class" in manifest and manifest["iot_class"] not in IOT_CLASSES:
        problems.append(f"{where}: 'iot_class' {manifest['iot_class']!r} is not one of {sorted(IOT_CLASSES)}")
    if "integration_type" in manifest and manifest["integration_type"] not in INTEGRATION_TYPES:
        problems.append(
            f"{where}: 'integration_type' {manifest['integration_type']!r} is not one of {sorted(INTEGRATION_TYPES)}"
        )
    for key in LIST_KEYS:
        if key in manifest and not (isinstance(manifest[key], list) and all(isinstance(v, str) for v in manifest[key])):
            problems.append(f"{where}: '{key}' must be a list of strings")
    for key in ("documentation", "issue_tracker"):
        if key in manifest and not str(manifest[key]).startswith("https://"):
            problems.append(f"{where}: '{key}' must be an https URL")
    for key in ("config_flow", "single_config_entry"):
        if key in manifest and not isinstance(manifest[key], bool):
            problems.append(f"{where}: '{key}' must be true or false")
    return problems


def _valid_version(version: str) -> bool:
    try:
        return AwesomeVersion(version, ensure_strategy=VERSION_STRATEGIES).valid
    except AwesomeVersionException:
        return False


def check_hacs(root: Path, integration: Path) -> list[str]:
    return [
        *check_mapping(
            root / "hacs.json", lambda hacs, where: _hacs_problems(hacs, where, integration), "a JSON object"
        ),
        *check_license(root),
    ]


def check_license(root: Path) -> list[str]:
    """HACS's `license` check wants a licence file; it must be the one pyproject declares."""
    path = root / "LICENSE"
    if not path.is_file():
        return [f"{rel(path)}: missing (HACS refuses a repository without a licence)"]
    declared = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    first_line = path.read_text(encoding="utf-8").strip().splitlines()[0]
    if first_line != f"{declared} License":
        return [f"{rel(path)}: starts with {first_line!r}, but pyproject.toml declares {declared!r}"]
    return []


def _hacs_problems(hacs: dict[str, Any], where: str, integration: Path) -> list[str]:
    problems = [f"{where}: unknown key '{key}'" for key in hacs if key not in HACS_KEYS]
    if not isinstance(hacs.get("name"), str) or not hacs["name"].strip():
        problems.append(f"{where}: 'name' is required")
    minimum = hacs.get("homeassistant")
    if not isinstance(minimum, str) or not _valid_version(minimum):
        problems.append(f"{where}: 'homeassistant' must be the minimum Home Assistant version, e.g. \"2026.2.0\"")
    if hacs.get("render_readme") is not True:
        problems.append(f"{where}: 'render_readme' must be true (the README is the repository's documentation)")
    icon = integration / "brand" / "icon.png"
    size = png_size(icon)
    if size is None:
        problems.append(f"{rel(icon)}: missing or not a PNG (HACS and HA 2026.3+ read the brand icon here)")
    elif size[0] != size[1] or not 128 <= size[0] <= 512:
        problems.append(f"{rel(icon)}: must be square, 128 to 512 px (is {size[0]}x{size[1]})")
    return problems


def png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, or None if the file is not a PNG."""
    if not path.is_file():
        return None
    head = path.read_bytes()[:24]
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])
