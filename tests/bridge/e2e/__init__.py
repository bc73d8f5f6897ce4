"""End-to-end tests of the Pi bridge: real Mosquitto, real bridge processes; only hardware is faked."""
