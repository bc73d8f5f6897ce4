"""esphome/hydro-node.yaml built for this machine and run as a node on a real broker.

ESPHome's own ``host`` platform compiles here, but it has no MQTT component (ESPHome
2026.10: "only available on esp32, esp8266, ..."), and ``json`` needs ArduinoJson from the
PlatformIO registry, which is offline. So this module does what ESPHome's code generator
does for the parts of the YAML that carry the node's behaviour: every lambda of the YAML
is compiled verbatim (after ``${...}`` substitution) with g++, inside the automations the
YAML wires them into (the ``on_json_message`` command handler, the scripts with their
parameters, ``mode: restart`` and ``delay``, ``mqtt.publish_json``, ``if``, the float
switch's ``on_press``, ``on_connect``, the ``interval``). ``esphome_shim.h`` stands in for
ESPHome's runtime and ArduinoJson. Not covered: Wi-Fi/MQTT client internals, SNTP (the clock
is the host's, always valid), the ADC/DS18B20 drivers and sensor filters (the sensors hold
fixed values), the float switch's 500 ms ``delayed_on`` filter.

``EsphomeHostNode`` runs the program and relays between its stdin/stdout and a broker:
birth and last will as ESPHome's MQTT client sends them, commands in, publishes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
import re
import shutil
import subprocess
from typing import Any

import aiomqtt
import yaml

ROOT = Path(__file__).resolve().parents[2]
NODE_YAML = ROOT / "esphome" / "hydro-node.yaml"
SHIM = Path(__file__).with_name("esphome_shim.h")
# The sensors' values: the drivers are hardware, not the node's logic.
SENSOR_VALUES = {"tds": 812.0, "ph": 6.1, "moisture": 41.5, "water_temperature": 21.5, "wifi_signal_db": -61.0}
_CPP_TYPES = {"float": "float", "string": "std::string", "int": "int", "bool": "bool"}


class _Loader(yaml.SafeLoader):
    """ESPHome YAML; tags such as !secret and !lambda become their plain value."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


class UnsupportedYaml(Exception):
    """The YAML uses an automation this generator does not translate (add it here)."""


def load_node(path: Path = NODE_YAML, **substitutions: str) -> dict[str, Any]:
    """The YAML with its substitutions applied, as ESPHome applies them (textually)."""
    raw = yaml.load(path.read_text(), Loader=_Loader)  # a SafeLoader subclass
    subs = {k: str(v) for k, v in raw["substitutions"].items()} | substitutions

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            for _ in range(5):  # substitutions may refer to others
                value = re.sub(r"\$\{(\w+)\}", lambda m: subs[m.group(1)], value)
            return value
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        return value

    node: dict[str, Any] = substitute({k: v for k, v in raw.items() if k != "substitutions"})
    node["substitutions"] = subs
    return node


def _cpp_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Generator:
    def __init__(self, node: dict[str, Any]) -> None:
        self.node = node
        self.scripts = {s["id"]: s for s in node.get("script", [])}

    def script_call(self, spec: Any) -> str:
        if isinstance(spec, str):
            name, args = spec, {}
        else:
            name, args = spec["id"], {k: v for k, v in spec.items() if k != "id"}
        params = self.scripts[name].get("parameters", {})
        values = []
        for param, kind in params.items():
            value = args[param]
            values.append(f"std::string({_cpp_string(str(value))})" if kind == "string" else str(value))
        return f"{name}.execute({', '.join(values)});"

    def action(self, action: dict[str, Any]) -> str:
        """One action that runs to its end (no delay) as C++ statements."""
        ((kind, spec),) = action.items()
        if kind == "lambda":
            return f"[&]() {{\n{spec}\n}}();"
        if kind == "script.execute":
            return self.script_call(spec)
        if kind == "mqtt.publish_json":
            retain = "true" if spec.get("retain") else "false"
            body = f"[&](JsonObject root) {{\n{spec['payload']}\n}}"
            return f"broker.publish_json({_cpp_string(spec['topic'])}, {body}, {spec.get('qos', 0)}, {retain});"
        if kind == "mqtt.publish":
            retain = "true" if spec.get("retain") else "false"
            args = f"{_cpp_string(spec['topic'])}, {_cpp_string(spec['payload'])}, {spec.get('qos', 0)}, {retain}"
            return f"broker.publish({args});"
        if kind == "if":
            condition = spec["condition"]["lambda"]
            then = "\n".join(self.action(a) for a in spec["then"])
            other = "\n".join(self.action(a) for a in spec.get("else", []))
            return f"if ([&]() -> bool {{\n{condition}\n}}()) {{\n{then}\n}} else {{\n{other}\n}}"
        raise UnsupportedYaml(f"action {kind!r}")

    def actions(self, actions: list[dict[str, Any]]) -> str:
        return "\n".join(self.action(a) for a in actions)

    def script_struct(self, name: str, script: dict[str, Any]) -> tuple[str, str]:
        """A script as a struct: parameters as members, steps split at each ``delay``."""
        params = script.get("parameters", {})
        mode = script.get("mode", "single")
        members = "".join(f"  {_CPP_TYPES[kind]} {param}{{}};\n" for param, kind in params.items())
        signature = ", ".join(f"{_CPP_TYPES[kind]} {param}_" for param, kind in params.items())
        assign = "".join(f"    {param} = {param}_;\n" for param in params)
        decl = (
            f"struct Script_{name} {{\n{members}  int generation = 0;\n  bool running = false;\n"
            f"  void execute({signature});\n  void stop() {{ generation++; running = false; }}\n"
            f"  void run(int step, int gen);\n}};\n"
        )
        steps: list[str] = []
        current: list[str] = []
        for action in script["then"]:
            if "delay" in action:
                delay = action["delay"]
                if not isinstance(delay, str) or "return" not in delay:
                    raise UnsupportedYaml(f"delay {delay!r}")
                index = len(steps) + 1
                schedule = f"schedule([&]() -> uint32_t {{\n{delay}\n}}(), [this, gen]() {{ run({index}, gen); }});"
                steps.append("\n".join(current) + f"\n{schedule}\nreturn;")
                current = []
            else:
                current.append(self.action(action))
        steps.append("\n".join(current) + "\nrunning = false;\nreturn;")
        cases = "".join(f"    case {i}: {{\n{body}\n    }}\n" for i, body in enumerate(steps))
        # mode: restart stops a running instance; single ignores a new start while one waits in a delay.
        start = "  stop();\n" if mode == "restart" else "  if (running) return;\n" if mode == "single" else ""
        body = (
            f"void Script_{name}::execute({signature}) {{\n{start}{assign}  running = true;\n"
            f"  run(0, generation);\n}}\n"
            f"void Script_{name}::run(int step, int gen) {{\n  if (gen != generation) return;\n"
            f"  switch (step) {{\n{cases}  }}\n}}\n"
        )
        return decl, body

    def program(self) -> str:
        node = self.node
        out = ['#include "esphome_shim.h"', "", "MqttClient broker;", "SntpClock sntp_clock;"]
        out += [f"{g['type']} {g['id']} = {g.get('initial_value', '{}')};" for g in node.get("globals", [])]
        out += [f"Switch {s['id']};" for s in node.get("switch", [])]
        out += [f"BinarySensor {s['id']};" for s in node.get("binary_sensor", [])]
        out += [f"Sensor {s['id']};" for s in node.get("sensor", [])]
        structs = {name: self.script_struct(name, script) for name, script in self.scripts.items()}
        out += [decl for decl, _ in structs.values()]
        out += [f"Script_{name} {name};" for name in self.scripts]
        out += [body for _, body in structs.values()]
        mqtt = node["mqtt"]
        handler = mqtt["on_json_message"]
        out.append(f"void on_json_message(JsonObject x) {{\n{self.actions(handler['then'])}\n}}")
        out.append(f"void on_connect() {{\n{self.actions(mqtt.get('on_connect', []))}\n}}")
        interval = node["interval"][0]
        seconds = float(str(interval["interval"]).removesuffix("s"))
        out.append(f"const uint32_t INTERVAL_MS = {int(seconds * 1000)};")
        out.append(f"void on_interval() {{\n{self.actions(interval['then'])}\n}}")
        presses = [(s["id"], s.get("on_press", [])) for s in node.get("binary_sensor", [])]
        out.append(
            "void set_binary(const std::string &key, bool state) {\n"
            + "".join(
                f'  if (key == "{key}") {{ bool was = {key}.state; {key}.state = state;\n'
                f"    if (state && !was) {{\n{self.actions(actions)}\n    }} }}\n"
                for key, actions in presses
            )
            + "}"
        )
        out.append(
            "void set_sensor(const std::string &key, float value) {\n"
            + "".join(f'  if (key == "{s["id"]}") {s["id"]}.state = value;\n' for s in node.get("sensor", []))
            + "}"
        )
        out.append(f'#include "{Path(__file__).with_name("esphome_main.inc")}"')
        return "\n".join(out) + "\n"


def generate(node: dict[str, Any]) -> str:
    """The C++ program of ``node`` (a ``load_node`` result)."""
    return _Generator(node).program()


def build(workdir: Path, **substitutions: str) -> Path:
    """Generate and compile the node; returns the program. g++ and nlohmann-json must be installed."""
    compiler = shutil.which("g++")
    assert compiler, "g++ is missing: apt-get install -y g++ nlohmann-json3-dev (scripts/test installs them)"
    header = Path("/usr/include/nlohmann/json.hpp")
    assert header.is_file(), "nlohmann-json is missing: apt-get install -y nlohmann-json3-dev"
    source = workdir / "hydro_node.cpp"
    source.write_text(generate(load_node(**substitutions)))
    program = workdir / "hydro_node"
    result = subprocess.run(
        [compiler, "-std=c++17", "-O1", "-Wall", "-I", str(SHIM.parent), "-o", str(program), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, f"the node's lambdas do not compile:\n{result.stderr[-6000:]}"
    return program


class EsphomeHostNode:
    """The compiled node on a broker, with ESPHome's birth message and last will."""

    def __init__(self, program: Path, node: dict[str, Any], port: int) -> None:
        self.program, self.node, self.port = program, node, port
        mqtt = node["mqtt"]
        self.birth, self.will = mqtt["birth_message"], mqtt["will_message"]
        self.cmd_topic = mqtt["on_json_message"]["topic"]
        self.process: asyncio.subprocess.Process | None = None
        self._client: aiomqtt.Client | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.log: list[str] = []

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            str(self.program), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        will = aiomqtt.Will(self.will["topic"], self.will["payload"], qos=self.will["qos"], retain=self.will["retain"])
        self._client = aiomqtt.Client("127.0.0.1", self.port, identifier=self.node["esphome"]["name"], will=will)
        await self._client.__aenter__()
        await self._client.publish(
            self.birth["topic"], self.birth["payload"], qos=self.birth["qos"], retain=self.birth["retain"]
        )
        await self._client.subscribe(self.cmd_topic, qos=1)
        self._tasks = [asyncio.create_task(self._publish_output()), asyncio.create_task(self._feed_commands())]
        for key, value in SENSOR_VALUES.items():
            await self._send(f"V {key} {value}")
        await self._send("C")

    async def _send(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def set_binary(self, key: str, state: bool) -> None:
        await self._send(f"B {key} {int(state)}")

    async def _feed_commands(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            await self._send(f"J {bytes(message.payload).hex()}")  # type: ignore[arg-type]

    async def _publish_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None and self._client is not None
        while line := await self.process.stdout.readline():
            self.log.append(line.decode(errors="replace").rstrip())
            parts = line.decode().split()
            if parts[0] == "P":
                qos, retain, topic = int(parts[1]), parts[2] == "1", parts[3]
                payload = bytes.fromhex(parts[4]) if len(parts) > 4 else b""
                await self._client.publish(topic, payload, qos=qos, retain=retain)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
