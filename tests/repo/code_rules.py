"""hassfest's rules that need the integration's code: dependencies, services, translations, icons.

The code is read with ``ast``, never imported, so a rule holds for every code path, not
only for the ones a test happens to run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
import json
from pathlib import Path
import re
import string
from typing import Any

from homeassistant.const import Platform
from homeassistant.helpers import config_validation as cv, selector, service as ha_service
import voluptuous as vol
import yaml

from .paths import rel

# Integrations hassfest lets any integration use without listing them
# (script/hassfest/dependencies.py, ALLOWED_USED_COMPONENTS).
ALLOWED_USED_COMPONENTS = frozenset(
    {
        *(str(p) for p in Platform),
        "alert",
        "automation",
        "conversation",
        "default_config",
        "device_automation",
        "frontend",
        "group",
        "hassio",
        "homeassistant",
        "input_boolean",
        "input_button",
        "input_datetime",
        "input_number",
        "input_select",
        "input_text",
        "media_source",
        "onboarding",
        "panel_custom",
        "persistent_notification",
        "person",
        "script",
        "shopping_list",
        "sun",
        "system_health",
        "system_log",
        "timer",
        "webhook",
        "websocket_api",
        "zone",
        "mjpeg",
        "stream",
    }
)
SERVICE_REGISTRATIONS = frozenset(
    {
        "async_register",
        "async_register_entity_service",
        "async_register_platform_entity_service",
        "async_register_admin_service",
    }
)
SERVICE_FIELD_KEYS = frozenset(
    {"name", "description", "example", "default", "required", "advanced", "selector", "filter"}
)
# script/hassfest/translations.py in HA core: RE_TRANSLATION_KEY, the keys it applies to
# (TRANSLATION_KEY_PATHS) and what it forbids in every string.
TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")


@dataclass(frozen=True)
class Source:
    path: Path
    tree: ast.Module


def sources(integration: Path) -> list[Source]:
    return [
        Source(p, ast.parse(p.read_text(encoding="utf-8"), str(p)))
        for p in sorted(integration.rglob("*.py"))
        if "__pycache__" not in p.parts
    ]


def string_constants(files: list[Source]) -> dict[str, str]:
    """Module-level NAME = "text" (also NAME: Final = "text") of every file, to resolve names."""
    found: dict[str, str] = {}
    for source in files:
        for node in source.tree.body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[target.id] = value.value
    return found


def _resolve(node: ast.AST, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute):  # const.SERVICE_X
        return constants.get(node.attr)
    return None


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    yield from (n for n in ast.walk(tree) if isinstance(n, ast.Call))


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


# --- dependencies -----------------------------------------------------------------------


def used_components(files: list[Source]) -> dict[str, set[str]]:
    """Integration domains imported from homeassistant.components, with the files using them."""
    used: dict[str, set[str]] = {}
    for source in files:
        for node in ast.walk(source.tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = (
                    [node.module]
                    if node.module != "homeassistant.components"
                    else [f"homeassistant.components.{alias.name}" for alias in node.names]
                )
            for name in names:
                parts = name.split(".")
                if parts[:2] == ["homeassistant", "components"] and len(parts) > 2:
                    used.setdefault(parts[2], set()).add(rel(source.path))
    return used


def check_dependencies(integration: Path, manifest: dict[str, Any]) -> list[str]:
    listed = set(manifest.get("dependencies", [])) | set(manifest.get("after_dependencies", []))
    problems = []
    for domain, files in sorted(used_components(sources(integration)).items()):
        # A platform file named after another integration (diagnostics.py, logbook.py...) is
        # loaded by that integration, so it may import it; hassfest allows that too.
        if domain in listed or domain in ALLOWED_USED_COMPONENTS or (integration / f"{domain}.py").exists():
            continue
        problems.append(
            f"{rel(integration / 'manifest.json')}: 'dependencies': homeassistant.components.{domain} "
            f"is imported by {', '.join(sorted(files))} but not listed in dependencies or "
            f"after_dependencies"
        )
    return problems


# --- services ---------------------------------------------------------------------------


def registered_services(integration: Path, domain: str) -> dict[str, str]:
    """Service names the code registers, with the file registering each."""
    files = sources(integration)
    constants = string_constants(files)
    found: dict[str, str] = {}
    for source in files:
        for call in _calls(source.tree):
            if _call_name(call) not in SERVICE_REGISTRATIONS:
                continue
            # The service name is the first string argument that is not the domain:
            # async_register(DOMAIN, name, ...), async_register_entity_service(name, ...),
            # async_register_platform_entity_service(hass, DOMAIN, name, ...).
            args = [_resolve(arg, constants) for arg in call.args]
            name = next((a for a in args if a is not None and a != domain), None)
            if name is None:
                keyword = next((k.value for k in call.keywords if k.arg in ("name", "service")), None)
                name = _resolve(keyword, constants) if keyword is not None else None
            if name is not None:
                found[name] = rel(source.path)
    return found


def check_services(integration: Path, domain: str) -> list[str]:
    registered = registered_services(integration, domain)
    path = integration / "services.yaml"
    if not path.is_file():
        return [f"{rel(path)}: missing; the code registers {sorted(registered)}"] if registered else []
    where = rel(path)
    try:
        described = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        return [f"{where}: not valid YAML ({err})"]
    problems = [
        f"{where}: '{name}' is registered in {file} but not described"
        for name, file in sorted(registered.items())
        if name not in described
    ]
    problems += [
        f"{where}: '{name}' is described but the code never registers it"
        for name in described
        if name not in registered
    ]
    for name, service in described.items():
        field_problems = []
        for field, spec in _fields(service or {}):
            unknown = sorted(set(spec) - SERVICE_FIELD_KEYS)
            if unknown:
                field_problems.append(f"{where}: '{name}.fields.{field}': unknown keys {unknown}")
            if "selector" not in spec:
                field_problems.append(f"{where}: '{name}.fields.{field}': has no selector")
                continue
            try:
                selector.validate_selector(spec["selector"])
            except vol.Invalid as err:
                field_problems.append(f"{where}: '{name}.fields.{field}.selector': {err}")
        problems += field_problems
        if field_problems:
            continue
        # Then HA's own schema for the whole description, as HA applies it when loading it.
        try:
            ha_service._SERVICES_SCHEMA({name: service})  # HA keeps it private; hassfest uses the same
        except vol.Invalid as err:
            problems.append(f"{where}: '{name}': {err}")
    return problems


def _fields(service: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, spec in (service.get("fields") or {}).items():
        if isinstance(spec, dict) and "fields" in spec:  # a section
            yield from ((f"{key}.{k}", v or {}) for k, v in spec["fields"].items())
        else:
            yield key, spec or {}


# --- translations -----------------------------------------------------------------------


# Where hassfest validates a key, and with what: "key" is TRANSLATION_KEY, "slug" HA's
# cv.slug, "slug_or_" cv.slug or "_", "underscore_slug" cv.underscore_slug. "*" is any key;
# keys not listed (step ids, data fields, errors, aborts...) may be any string.
TRANSLATION_KEY_PATHS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("entity", "*"), "slug"),
    (("entity", "*", "*"), "key"),
    (("entity", "*", "*", "state", "*"), "key"),
    (("entity", "*", "*", "state_attributes", "*"), "key"),
    (("entity", "*", "*", "state_attributes", "*", "state", "*"), "key"),
    (("entity_component", "*"), "slug_or_"),
    (("entity_component", "*", "state", "*"), "key"),
    (("entity_component", "*", "state_attributes", "*"), "key"),
    (("entity_component", "*", "state_attributes", "*", "state", "*"), "key"),
    (("device", "*"), "key"),
    (("selector", "*"), "slug_or_"),
    (("selector", "*", "options", "*"), "key"),
    (("selector", "*", "choices", "*"), "key"),
    (("selector", "*", "unit_of_measurement", "*"), "key"),
    (("selector", "*", "fields", "*"), "key"),
    (("services", "*"), "key"),
    (("services", "*", "fields", "*"), "key"),
    (("services", "*", "sections", "*"), "key"),
    (("conditions", "*"), "underscore_slug"),
    (("conditions", "*", "fields", "*"), "key"),
    (("triggers", "*"), "underscore_slug"),
    (("triggers", "*", "fields", "*"), "key"),
    (("exceptions", "*"), "slug"),
    (("system_health", "info", "*"), "key"),
    (("preview_features", "*"), "key"),
    (("config_subentries", "*"), "slug_or_"),
    (("common", "*"), "slug"),
)
# The top-level sections hassfest's strings schema accepts (anything else is an error).
TRANSLATION_SECTIONS = frozenset(
    {
        "title", "config", "config_subentries", "options", "preview_features", "selector",
        "device_automation", "system_health", "config_panel", "application_credentials", "issues",
        "entity_component", "device", "entity", "exceptions", "services", "conditions", "triggers",
        "conversation", "common",
    }
)  # fmt: skip
# Strings where hassfest allows no {placeholder}: entity states, attribute names and units.
NO_PLACEHOLDER_PATHS = (
    ("entity", "*", "*", "state", "*"),
    ("entity", "*", "*", "state_attributes", "*", "name"),
    ("entity", "*", "*", "state_attributes", "*", "state", "*"),
    ("entity", "*", "*", "unit_of_measurement"),
    ("entity_component", "*", "state", "*"),
    ("entity_component", "*", "state_attributes", "*", "state", "*"),
)
_HTML = re.compile(r"<[a-z].*?>", re.IGNORECASE)
_SINGLE_QUOTED_PLACEHOLDER = re.compile(r"'{\w+}'")
_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == part for part, p in zip(path, pattern, strict=True))


def translation_key_problem(path: tuple[str, ...]) -> str | None:
    """Why hassfest would refuse the last key of ``path``, or None."""
    kind = next((kind for pattern, kind in TRANSLATION_KEY_PATHS if _matches(path, pattern)), None)
    key = path[-1]
    if kind == "key" and not TRANSLATION_KEY.match(key):
        return "must be [a-z0-9-_], not start or end with '-' or '_', and have no doubled '-'/'_'"
    if kind in ("slug", "slug_or_", "underscore_slug"):
        if kind == "slug_or_" and key == "_":
            return None
        try:
            (cv.underscore_slug if kind == "underscore_slug" else cv.slug)(key)
        except vol.Invalid:
            return "must be a slug (lowercase [a-z0-9_], no '_' at either end, none doubled)"
    return None


def translation_value_problems(value: str, path: tuple[str, ...]) -> list[str]:
    """hassfest's checks of one translated string."""
    problems = []
    if not value.strip():
        problems.append("is empty")
    elif value != value.strip():
        problems.append("has leading or trailing spaces")
    if _HTML.search(value):
        problems.append("contains HTML")
    if _SINGLE_QUOTED_PLACEHOLDER.search(value):
        problems.append("has a placeholder inside single quotes")
    if _COMBINED_REFERENCE.search(value):
        problems.append("combines a [%key:...%] reference with other text")
    if _URL.search(value):
        problems.append("contains a URL (use a description placeholder)")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name]
    except ValueError:
        return [*problems, "has an unbalanced '{' or '}'"]
    if fields and any(_matches(path, pattern) for pattern in NO_PLACEHOLDER_PATHS):
        problems.append("may not have placeholders")
    problems += [
        f"has a placeholder '{{{name}}}' that is not an identifier" for name in fields if not name.isidentifier()
    ]
    return problems


def check_translation_format(path: Path) -> list[str]:
    where = rel(path)
    try:
        strings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        return [f"{where}: cannot be read as JSON ({err})"]
    problems = [f"{where}: unknown section '{key}'" for key in strings if key not in TRANSLATION_SECTIONS]

    def walk(node: Any, trail: tuple[str, ...]) -> None:
        at = ".".join(trail)
        if isinstance(node, dict):
            for key, value in node.items():
                if (why := translation_key_problem((*trail, key))) is not None:
                    problems.append(f"{where}: key '{at + '.' if at else ''}{key}' {why}")
                walk(value, (*trail, key))
        elif isinstance(node, str):
            problems.extend(f"{where}: '{at}' {why}" for why in translation_value_problems(node, trail))
        else:
            problems.append(f"{where}: '{at}' must be a string or an object")

    walk(strings, ())
    for flow in ("config", "options"):
        for step_id, step in (strings.get(flow, {}).get("step") or {}).items():
            missing = set(step.get("data_description", {})) - set(step.get("data", {}))
            problems += [
                f"{where}: '{flow}.step.{step_id}.data_description.{key}' has no '{flow}.step.{step_id}.data.{key}'"
                for key in sorted(missing)
            ]
    return problems


def _nodes_with_flow(source: Source) -> Iterator[tuple[str, ast.AST]]:
    """Every node of a file, with the flow whose strings it uses ("config" or "options").

    A config_flow.py holds the config flow and usually an options flow; an options flow's
    steps, errors and aborts live under "options" in the translations.
    """
    for top in source.tree.body:
        flow = "config"
        if isinstance(top, ast.ClassDef) and any("OptionsFlow" in ast.unparse(base) for base in top.bases):
            flow = "options"
        for node in ast.walk(top):
            yield flow, node


def used_translation_keys(integration: Path) -> dict[str, str]:
    """Translation paths the code needs ("entity.sensor.tds", "exceptions.x", "config.abort.y"), with a file."""
    files = sources(integration)
    constants = string_constants(files)
    platforms = {str(p) for p in Platform}
    used: dict[str, str] = {}
    for source in files:
        platform = source.path.stem if source.path.stem in platforms else None
        is_flow = source.path.name == "config_flow.py"
        where = rel(source.path)
        for flow, node in _nodes_with_flow(source):
            if isinstance(node, ast.Call):
                keywords = {k.arg: k.value for k in node.keywords if k.arg}
                key = _resolve(keywords["translation_key"], constants) if "translation_key" in keywords else None
                if key is not None:
                    if "translation_domain" in keywords:
                        used[f"exceptions.{key}"] = where
                    elif _call_name(node) in ("async_create_issue", "create_issue"):
                        used[f"issues.{key}"] = where
                    elif platform:
                        used[f"entity.{platform}.{key}"] = where
                name = _call_name(node)
                if is_flow and name == "async_abort" and "reason" in keywords:
                    reason = _resolve(keywords["reason"], constants)
                    if reason:
                        used[f"{flow}.abort.{reason}"] = where
                if is_flow and name in ("async_show_form", "async_show_menu") and "step_id" in keywords:
                    step = _resolve(keywords["step_id"], constants)
                    if step:
                        used[f"{flow}.step.{step}"] = where
            elif isinstance(node, ast.Assign) and platform:
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == "_attr_translation_key":
                        key = _resolve(node.value, constants)
                        if key:
                            used[f"entity.{platform}.{key}"] = where
            # errors["base"] = "invalid_x" in a flow
            if (
                is_flow
                and isinstance(node, ast.Assign)
                and any(
                    isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == "errors"
                    for t in node.targets
                )
            ):
                error = _resolve(node.value, constants)
                if error:
                    used[f"{flow}.error.{error}"] = where
    return used


def check_translation_usage(integration: Path) -> list[str]:
    path = integration / "translations" / "en.json"
    strings = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for key_path, file in sorted(used_translation_keys(integration).items()):
        node: Any = strings
        for part in key_path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            problems.append(f"{rel(path)}: '{key_path}' is used by {file} but missing")
    return problems


# --- icons ------------------------------------------------------------------------------


def check_icons(integration: Path) -> list[str]:
    path = integration / "icons.json"
    if not path.is_file():
        return []
    where = rel(path)
    problems = []

    def walk(node: Any, trail: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{trail}.{key}" if trail else key)
        elif not (isinstance(node, str) and re.fullmatch(r"mdi:[a-z0-9-]+", node)):
            problems.append(f"{where}: '{trail}' must be an icon like 'mdi:water', is {node!r}")

    walk(json.loads(path.read_text(encoding="utf-8")), "")
    return problems
