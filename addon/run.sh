#!/usr/bin/with-contenv bashio
# shellcheck shell=bash
# Starts the receiver with the add-on's options and the broker from the Supervisor's
# MQTT service, falling back to the mqtt_* options when the service is not available.
# Only the MQTT service lookup needs bashio; the receiver command is the last line, the
# same on HA's base image and on the stand-in base the image test builds (DOCS.md).
set -euo pipefail

# 8010 is the container port config.yaml's `ports` maps and healthcheck.py probes; the
# host port is set in the add-on's Network panel, so the listener never moves.
args=(--options /data/options.json --data-dir /data --ssl-dir /ssl --port 8010)

if bashio::services.available "mqtt"; then
  args+=(--mqtt-host "$(bashio::services mqtt 'host')" --mqtt-port "$(bashio::services mqtt 'port')")
  if bashio::var.true "$(bashio::services mqtt 'ssl')"; then
    args+=(--mqtt-tls)
  fi
  username="$(bashio::services mqtt 'username')"
  if bashio::var.has_value "${username}"; then
    args+=(--mqtt-username "${username}")
    # Passed through the environment so it never shows in the process list.
    MQTT_PASSWORD="$(bashio::services mqtt 'password')"
    export MQTT_PASSWORD
  fi
  bashio::log.info "Using the MQTT broker from the Supervisor's MQTT service"
elif bashio::config.has_value "mqtt_host"; then
  bashio::log.info "MQTT service not available; using the mqtt_* options"
else
  bashio::log.warning "No MQTT broker: syncs are stored and queued until one is configured"
fi

exec python3 -m hydro_fleet_receiver "${args[@]}"
