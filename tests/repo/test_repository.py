"""This repository against HACS's, hassfest's and the add-on linter's rules (see the *_rules modules).

Each test prints every problem at once, each naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.util.yaml import load_yaml_dict
import pytest
import yaml

from . import addon_rules, code_rules, manifest_rules
from .paths import ADDON, BLUEPRINTS, INTEGRATION, RECEIVER_PACKAGE, ROOT, rel

BLUEPRINT_FILES = sorted(BLUEPRINTS.rglob("*.yaml"))
SOURCE_URL = "https://github.com/hydro-fleet/hydro-fleet/blob/main/"


def assert_none(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


def test_hacs_json_and_brand_icon() -> None:
    assert_none(manifest_rules.check_hacs(ROOT, INTEGRATION))


def test_the_repository_runs_todays_validators_on_every_push() -> None:
    """hassfest and HACS's action as integration_blueprint runs them; brands not ignored."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "validate.yaml").read_text())
    assert "push" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = {step["uses"].split("@")[0]: step for job in workflow["jobs"].values() for step in job["steps"]}
    assert "home-assistant/actions/hassfest" in steps
    assert steps["hacs/action"]["with"]["category"] == "integration"
    assert "ignore" not in steps["hacs/action"]["with"]
    assert steps["frenck/action-addon-linter"]["with"]["path"] == "./addon"


def test_manifest() -> None:
    assert_none(manifest_rules.check_manifest(INTEGRATION))


def test_every_used_component_is_a_dependency() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    assert_none(code_rules.check_dependencies(INTEGRATION, manifest))


def test_services_are_described() -> None:
    assert_none(code_rules.check_services(INTEGRATION, INTEGRATION.name))


def test_translations_format() -> None:
    files = sorted((INTEGRATION / "translations").glob("*.json"))
    assert files, f"{rel(INTEGRATION)}/translations/en.json: missing"
    assert_none([p for f in files for p in code_rules.check_translation_format(f)])


def test_every_translation_key_the_code_uses_exists() -> None:
    assert_none(code_rules.check_translation_usage(INTEGRATION))


def test_icons() -> None:
    assert_none(code_rules.check_icons(INTEGRATION))


def test_the_add_on_ships_with_the_receiver() -> None:
    """The receiver is deployed as the add-on: where its package is, addon/ must be valid.

    The add-on and the receiver arrive together (DESIGN: "packaged as an HA add-on").
    Without the receiver there is no add-on to check, and the rules themselves are
    tested on example add-ons in test_rules.py.
    """
    if RECEIVER_PACKAGE.exists() or ADDON.exists():
        assert_none(addon_rules.check_addon(ROOT, ADDON))
    else:
        assert not (ROOT / "repository.yaml").exists(), "repository.yaml without an add-on folder"


@pytest.mark.parametrize("path", BLUEPRINT_FILES, ids=lambda p: p.name)
def test_blueprint_loads_with_home_assistants_schema(path: Path) -> None:
    data = load_yaml_dict(path)
    blueprint = Blueprint(data, expected_domain="automation", path=path.name, schema=AUTOMATION_BLUEPRINT_SCHEMA)
    metadata = blueprint.metadata
    assert metadata["source_url"] == SOURCE_URL + rel(path), f"{rel(path)}: 'source_url'"
    assert metadata.get("description"), f"{rel(path)}: 'description' is missing"
    assert metadata["name"].startswith("Hydro Fleet – "), f"{rel(path)}: 'name'"
    for name, spec in blueprint.inputs.items():
        selector = (spec or {}).get("selector", {})
        for kind in ("entity", "device"):
            if kind in selector:
                filters = selector[kind].get("filter") or [{}]
                # Hydro Fleet's entities, or the automations a blueprint switches (reservoir low).
                assert all(
                    f.get("integration") == "hydro_fleet" or f.get("domain") in ("automation", ["automation"])
                    for f in filters
                ), f"{rel(path)}: input '{name}' is not filtered to Hydro Fleet"


def test_there_are_the_eight_blueprints() -> None:
    names = {p.stem for p in BLUEPRINT_FILES}
    assert names == {
        "ph_out_of_range",
        "nutrient_out_of_range",
        "water_when_dry",
        "reservoir_low",
        "pump_runtime_backstop",
        "node_offline",
        "power_bank_returned",
        "receiver_sync_rate",
    }
