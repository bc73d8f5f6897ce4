"""Hydro Fleet Pi bridge: probes, pumps and watering plans on a Raspberry Pi, over MQTT."""

__version__ = "0.1.0"
