"""The bridge's configuration file: one YAML or TOML file, validated with pydantic.

Every error names the key and what is wrong. The settings themselves are in ``settings``;
the long-running bridge validates its file in a short-lived child process
(``load_config_in_child``) so that it never imports pydantic.
"""

from __future__ import annotations

from pathlib import Path
import pickle
import socket
import subprocess
import sys
import tomllib
from typing import Any, TypeVar

import yaml

from .settings import BridgeConfig, ConfigError, node_id_from_hostname

_T = TypeVar("_T")


def config_for_this_node(directory: Path, node_id: str | None = None) -> Path:
    """Zero-touch (seed 002): in a directory of node configs, the one named after this Pi.

    One SD image for the whole fleet carries ``nodes/pi-1.yaml``..``pi-99.yaml`` from
    ``provision``; each Pi, named ``pi-N`` when it was flashed, picks its own file.
    """
    node = node_id or node_id_from_hostname(socket.gethostname())
    for suffix in (".yaml", ".yml", ".toml"):
        candidate = directory / f"{node}{suffix}"
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{directory} has no config for node {node!r} (expected {node}.yaml or {node}.toml)")


def read_config_data(path: Path | None, overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], Path | None]:
    """The raw mapping from ``path`` (YAML or TOML; None for defaults) with ``overrides`` on top."""
    data: dict[str, Any] = {}
    if path is not None and path.is_dir():
        path = config_for_this_node(path, (overrides or {}).get("node_id"))
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
        try:
            loaded = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {err}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        data = loaded or {}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        target = data
        *parents, last = dotted.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return data, path


def validate(settings: type[_T], data: Any, path: Path | None = None) -> _T:
    """``data`` validated by pydantic into ``settings``; a ConfigError naming each bad key otherwise."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(settings).validate_python(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, path)) from None


def dump(config: BridgeConfig) -> str:
    """The effective config as JSON, secrets masked (``check-config``)."""
    from pydantic import TypeAdapter

    return TypeAdapter(BridgeConfig).dump_json(config, indent=2).decode()


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> BridgeConfig:
    """Read ``path`` (YAML or TOML; None for defaults), apply ``overrides`` on top, validate.

    ``path`` may be a directory of per-node files; this node's is picked by node id.
    """
    data, path = read_config_data(path, overrides)
    return validate(BridgeConfig, data, path)


def load_config_in_child(path: Path | None, overrides: dict[str, Any] | None = None) -> BridgeConfig:
    """``load_config`` run in a short-lived child process, so this process never imports pydantic.

    The child is this same interpreter and code; it hands back the validated dataclasses
    pickled, or the ConfigError's message.
    """
    try:
        result = subprocess.run(  # noqa: S603  (our own interpreter and a constant program)
            [sys.executable, "-c", "from pi_bridge.config import _child_main; _child_main()"],
            input=pickle.dumps((path, overrides)),
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(f"config validation could not run: {err}") from None
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(f"config validation failed: {detail[-1] if detail else f'exit {result.returncode}'}")
    outcome, value = pickle.loads(result.stdout)  # noqa: S301  (our own child, same code)
    if outcome == "error":
        raise ConfigError(value)
    return value


def _child_main() -> None:
    path, overrides = pickle.loads(sys.stdin.buffer.read())  # noqa: S301  (from our own parent)
    try:
        outcome: tuple[str, Any] = ("ok", load_config(path, overrides))
    except ConfigError as err:
        outcome = ("error", str(err))
    sys.stdout.buffer.write(pickle.dumps(outcome))


_MESSAGES = {
    # A dataclass reports an unknown key as an unexpected argument; say it as a model would.
    "unexpected_keyword_argument": "Extra inputs are not permitted",
}


def _describe(err: Any, path: Path | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}key '{key}': {_MESSAGES.get(problem['type'], problem['msg'])}")
    return "\n".join(lines)
