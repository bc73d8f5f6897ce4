"""The validation rules catch what they claim to, and name the file and the key.

Each test copies the real integration (or writes an example add-on) into a temporary
folder, breaks one thing, and checks the message.
"""

from __future__ import annotations

import json
from pathlib import Path
import shutil

import pytest

from . import addon_rules, code_rules, manifest_rules
from .paths import INTEGRATION, ROOT


@pytest.fixture
def integration(tmp_path: Path) -> Path:
    target = tmp_path / "custom_components" / "hydro_fleet"
    shutil.copytree(INTEGRATION, target, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("hacs.json", "LICENSE", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return target


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def one(problems: list[str], *fragments: str) -> str:
    """The single problem reported, checked to contain every fragment."""
    assert len(problems) == 1, problems
    assert all(f in problems[0] for f in fragments), problems[0]
    return problems[0]


# --- manifest and hacs.json --------------------------------------------------------------


def test_manifest_unknown_key_and_order(integration: Path) -> None:
    manifest = integration / "manifest.json"
    edit_json(manifest, lambda m: m.update(colour="green"))
    problems = manifest_rules.check_manifest(integration)
    assert any("manifest.json: unknown key 'colour'" in p for p in problems)
    assert any("manifest.json: keys must be domain, name, then alphabetical" in p for p in problems)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("version", "banana", "'version' 'banana' is not a valid version"),
        ("iot_class", "local_pull", "'iot_class' 'local_pull' is not one of"),
        ("integration_type", "gadget", "'integration_type' 'gadget' is not one of"),
        ("dependencies", "mqtt", "'dependencies' must be a list of strings"),
        ("documentation", "http://example.com", "'documentation' must be an https URL"),
    ],
)
def test_manifest_bad_values(integration: Path, key: str, value: str, expected: str) -> None:
    edit_json(integration / "manifest.json", lambda m: m.update({key: value}))
    one(manifest_rules.check_manifest(integration), "manifest.json", expected)


def test_manifest_missing_required_key(integration: Path) -> None:
    edit_json(integration / "manifest.json", lambda m: m.pop("issue_tracker"))
    one(manifest_rules.check_manifest(integration), "manifest.json: required key 'issue_tracker' is missing")


def test_hacs_json_rules(integration: Path) -> None:
    hacs = integration.parents[1] / "hacs.json"
    edit_json(hacs, lambda h: h.update(render_readme=False, homeassistant="soon", zip="yes"))
    problems = manifest_rules.check_hacs(integration.parents[1], integration)
    assert "hacs.json: unknown key 'zip'" in problems[0]
    assert any("hacs.json: 'homeassistant' must be the minimum" in p for p in problems)
    assert any("hacs.json: 'render_readme' must be true" in p for p in problems)


def test_brand_icon_must_be_a_square_png(integration: Path) -> None:
    (integration / "brand" / "icon.png").write_bytes(b"GIF89a not a png")
    one(manifest_rules.check_hacs(integration.parents[1], integration), "brand/icon.png: missing or not a PNG")


# --- dependencies, services, translations, icons -----------------------------------------


def test_imported_component_must_be_a_dependency(integration: Path) -> None:
    helper = integration / "helpers_for_test.py"
    helper.write_text(
        "from homeassistant.components.zeroconf import async_get_instance\n"
        "from homeassistant.components import sensor, persistent_notification\n"
    )
    manifest = json.loads((integration / "manifest.json").read_text())
    one(
        code_rules.check_dependencies(integration, manifest),
        "manifest.json: 'dependencies'",
        "homeassistant.components.zeroconf",
        "helpers_for_test.py",
    )


SERVICES_PY = """
from homeassistant.helpers import service
SERVICE_RUN = "run_pump"

def setup(hass):
    hass.services.async_register("hydro_fleet", "ping", lambda call: None)
    service.async_register_platform_entity_service(hass, "hydro_fleet", SERVICE_RUN, entity_domain="switch",
                                                   func="async_run_pump", schema={})
"""


def test_registered_service_needs_services_yaml(integration: Path) -> None:
    (integration / "services.py").unlink(missing_ok=True)
    (integration / "services_for_test.py").write_text(SERVICES_PY)
    (integration / "services.yaml").unlink(missing_ok=True)
    one(code_rules.check_services(integration, "hydro_fleet"), "services.yaml: missing", "ping", "run_pump")


def test_services_yaml_is_checked_against_home_assistants_schema(integration: Path) -> None:
    # Only the services of SERVICES_PY: the integration's own would be "described nowhere".
    (integration / "services.py").unlink(missing_ok=True)
    (integration / "services_for_test.py").write_text(SERVICES_PY)
    (integration / "services.yaml").write_text(
        "ping:\n"
        "run_pump:\n"
        "  target:\n    entity:\n      integration: hydro_fleet\n      domain: switch\n"
        "  fields:\n"
        "    duration:\n      required: true\n      selector:\n        number_of_things:\n"
        "    speed:\n      requird: true\n      selector:\n        number: {min: 1, max: 10}\n"
        "forgotten:\n"
    )
    problems = code_rules.check_services(integration, "hydro_fleet")
    assert any("services.yaml: 'forgotten' is described but the code never registers it" in p for p in problems)
    assert any(
        "services.yaml: 'run_pump.fields.duration.selector'" in p and "number_of_things" in p for p in problems
    ), problems
    assert any("services.yaml: 'run_pump.fields.speed': unknown keys ['requird']" in p for p in problems)
    assert len(problems) == 3, problems


KEY_RULE = "must be [a-z0-9-_], not start or end with '-' or '_', and have no doubled"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["entity"]["sensor"].update(Bad_Key={"name": "x"}), f"key 'entity.sensor.Bad_Key' {KEY_RULE}"),
        (
            lambda s: s["entity"]["sensor"].update(water__low={"name": "x"}),
            f"key 'entity.sensor.water__low' {KEY_RULE}",
        ),
        # What the options flow's "no node" option used to be; hassfest refuses it.
        (
            lambda s: s.update(selector={"node": {"options": {"-": "No node"}}}),
            f"key 'selector.node.options.-' {KEY_RULE}",
        ),
        (
            lambda s: s.update(selector={"node": {"options": {"all_": "All"}}}),
            f"key 'selector.node.options.all_' {KEY_RULE}",
        ),
        (
            lambda s: s.update(selector={"node": {"options": {"a--b": "A"}}}),
            f"key 'selector.node.options.a--b' {KEY_RULE}",
        ),
        (lambda s: s["entity"].update(Sensor2={}), "key 'entity.Sensor2' must be a slug"),
        (lambda s: s["exceptions"].update(bad__slug={"message": "x"}), "key 'exceptions.bad__slug' must be a slug"),
        (lambda s: s.update(widgets={}), "unknown section 'widgets'"),
        (
            lambda s: s["entity"]["sensor"]["tds"].update(name=" TDS"),
            "'entity.sensor.tds.name' has leading or trailing",
        ),
        (lambda s: s["entity"]["sensor"]["tds"].update(name="<b>TDS</b>"), "'entity.sensor.tds.name' contains HTML"),
        (
            lambda s: s["entity"]["sensor"]["tds"].update(name="See https://example.com/x"),
            "'entity.sensor.tds.name' contains a URL",
        ),
        (
            lambda s: s["entity"]["sensor"]["tds"].update(name="TDS of '{node}'"),
            "'entity.sensor.tds.name' has a placeholder inside single quotes",
        ),
        (
            lambda s: s["entity"]["sensor"]["tds"].update(state={"high": "High {x}"}),
            "'entity.sensor.tds.state.high' may not have placeholders",
        ),
        (
            lambda s: s["config"]["step"]["user"]["data_description"].update(port="The port"),
            "'config.step.user.data_description.port' has no 'config.step.user.data.port'",
        ),
    ],
)
def test_translation_format(integration: Path, change, expected: str) -> None:
    path = integration / "translations" / "en.json"
    edit_json(path, change)
    one(code_rules.check_translation_format(path), "translations/en.json", expected)


def test_translation_key_used_by_code_must_exist(integration: Path) -> None:
    edit_json(integration / "translations" / "en.json", lambda s: s["entity"]["switch"].pop("pump"))
    edit_json(integration / "translations" / "en.json", lambda s: s["exceptions"].pop("command_timeout"))
    problems = code_rules.check_translation_usage(integration)
    assert any("'entity.switch.pump' is used by" in p and "switch.py" in p for p in problems), problems
    assert any("'exceptions.command_timeout' is used by" in p and "commands.py" in p for p in problems), problems


def test_icons_must_be_mdi(integration: Path) -> None:
    edit_json(integration / "icons.json", lambda i: i["entity"]["switch"]["pump"].update(default="pump.png"))
    one(code_rules.check_icons(integration), "icons.json: 'entity.switch.pump.default' must be an icon")


def test_licence_must_exist_and_match_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nlicense = "MIT"\n')
    one(manifest_rules.check_license(tmp_path), "LICENSE: missing")
    (tmp_path / "LICENSE").write_text("Apache License\nVersion 2.0\n")
    one(manifest_rules.check_license(tmp_path), "starts with 'Apache License'", "declares 'MIT'")
    (tmp_path / "LICENSE").write_text((ROOT / "LICENSE").read_text())
    assert manifest_rules.check_license(tmp_path) == []


# --- add-on ------------------------------------------------------------------------------

GOOD_CONFIG = """\
name: Hydro Fleet receiver
version: "0.1.0"
slug: hydro_fleet_receiver
description: Receives signed station data and publishes it to MQTT
arch: [aarch64, amd64]
services: ["mqtt:need"]
options:
  shared_secret: ""
schema:
  shared_secret: password
"""


@pytest.fixture
def addon(tmp_path: Path) -> Path:
    folder = tmp_path / "addon"
    folder.mkdir()
    (folder / "config.yaml").write_text(GOOD_CONFIG)
    (folder / "build.yaml").write_text(
        "build_from:\n  aarch64: ghcr.io/home-assistant/aarch64-base-python:3.13\n"
        "  amd64: ghcr.io/home-assistant/amd64-base-python:3.13\n"
    )
    (folder / "Dockerfile").write_text(
        "ARG BUILD_FROM=ghcr.io/home-assistant/amd64-base-python:3.13\nFROM $BUILD_FROM\n"
    )
    (tmp_path / "repository.yaml").write_text("name: Hydro Fleet add-ons\n")
    return folder


def test_a_valid_addon_passes(addon: Path) -> None:
    assert addon_rules.check_addon(addon.parent, addon) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("init: true\n", "'init' should be removed, it uses a default value"),
        ("boot: auto\n", "'boot' should be removed, it uses a default value"),
        ("colour: green\n", "unknown key 'colour'"),
        ("startup: sometimes\n", "'startup' must be one of"),
        ("watchdog: tcp://[HOST]:[PORT:80]\n", "'watchdog' is obsolete"),
    ],
)
def test_addon_config_rules(addon: Path, extra: str, expected: str) -> None:
    (addon / "config.yaml").write_text(GOOD_CONFIG + extra)
    one(addon_rules.check_addon_config(addon), "addon/config.yaml", expected)


def test_addon_config_required_keys_and_arch(addon: Path) -> None:
    text = GOOD_CONFIG.replace('version: "0.1.0"\n', "").replace("arch: [aarch64, amd64]", "arch: [armv7, amd64]")
    (addon / "config.yaml").write_text(text)
    problems = addon_rules.check_addon_config(addon)
    assert any("addon/config.yaml: required key 'version' is missing" in p for p in problems)
    assert any("addon/config.yaml: 'arch' must be a non-empty list of ['aarch64', 'amd64']" in p for p in problems)


def test_addon_build_dockerfile_and_repository(addon: Path) -> None:
    (addon / "build.yaml").write_text(
        "build_from:\n  amd64: ghcr.io/home-assistant/amd64-base-python:3.13\nsquash: false\n"
    )
    (addon / "Dockerfile").write_text("FROM python:3.13-slim\n")
    (addon.parent / "repository.yaml").write_text("url: https://example.com\n")
    problems = addon_rules.check_addon(addon.parent, addon)
    assert any("addon/build.yaml: 'squash' should be removed" in p for p in problems)
    assert any("addon/build.yaml: 'build_from' architectures ['amd64'] differ" in p for p in problems)
    assert any("addon/Dockerfile: 'ARG BUILD_FROM=<image>'" in p for p in problems)
    assert any("addon/Dockerfile: 'FROM $BUILD_FROM' is missing" in p for p in problems)
    assert any("repository.yaml: 'name' is required" in p for p in problems)
    assert len(problems) == 5, problems


def test_missing_addon_folder_is_named(tmp_path: Path) -> None:
    one(addon_rules.check_addon(tmp_path, tmp_path / "addon"), "addon/: missing")
