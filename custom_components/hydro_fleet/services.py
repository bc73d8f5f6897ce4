"""Actions of the integration, registered once in ``async_setup`` (rule action-setup).

All are entity actions on Hydro Fleet entities, so targets, areas and labels work and a
missing or unloaded entity gives HA's own clear error.
"""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, SupportsResponse, callback
from homeassistant.helpers import config_validation as cv, service
import voluptuous as vol

from .calibration import PH_BUFFERS
from .const import DOMAIN

SERVICE_RUN_PUMP = "run_pump"
SERVICE_SET_WATERING_TIMES = "set_watering_times"
SERVICE_CALIBRATE = "calibrate"
SERVICE_MAKE_TIMELAPSE = "make_timelapse"
ATTR_DURATION = "duration"
ATTR_TIMES = "times"


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions."""
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_RUN_PUMP,
        entity_domain=Platform.SWITCH,
        func="async_run_pump",
        schema={vol.Required(ATTR_DURATION): vol.All(vol.Coerce(float), vol.Range(min=1, max=86400))},
        supports_response=SupportsResponse.OPTIONAL,
    )
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_SET_WATERING_TIMES,
        entity_domain=Platform.SELECT,
        func="async_set_watering_times",
        schema={vol.Required(ATTR_TIMES): vol.All(cv.ensure_list, [cv.time], vol.Length(min=0, max=24))},
    )
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_CALIBRATE,
        entity_domain=Platform.SENSOR,
        func="async_calibrate_probe",
        schema={
            vol.Optional("standard_ppm"): vol.All(vol.Coerce(float), vol.Range(min=10, max=10000)),
            vol.Optional("buffer"): vol.All(vol.Coerce(float), vol.In(PH_BUFFERS)),
            vol.Optional("point"): vol.In(["dry", "wet", "empty", "full"]),
            vol.Optional("restart"): cv.boolean,
        },
        supports_response=SupportsResponse.OPTIONAL,
    )
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_MAKE_TIMELAPSE,
        entity_domain=Platform.IMAGE,
        func="async_make_timelapse",
        schema={
            vol.Optional("start"): cv.datetime,
            vol.Optional("end"): cv.datetime,
            vol.Optional("frames_per_second"): vol.All(vol.Coerce(float), vol.Range(min=0.5, max=30)),
            vol.Optional("width"): vol.All(vol.Coerce(int), vol.Range(min=160, max=1920)),
            vol.Optional("max_frames"): vol.All(vol.Coerce(int), vol.Range(min=2, max=500)),
            vol.Optional("include_watering"): cv.boolean,
        },
        supports_response=SupportsResponse.OPTIONAL,
    )
