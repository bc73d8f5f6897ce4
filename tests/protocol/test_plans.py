"""Protocol additions for watering plans, events and calibration (docs/bridge.md, "Protocol additions")."""

import pytest

from hydro_fleet_protocol import (
    EventType,
    PlanType,
    ProtocolError,
    WateringOutcome,
    WateringPlan,
    encode,
    time_of_day_seconds,
)


@pytest.mark.parametrize("params", [
    {"type": "basic", "volume_ml": 250, "pump": "pump"},
    {"type": "basic", "volume_ml": 250, "start_at": 1800000000},
    {"type": "moisture", "volume_ml": 100, "threshold_pct": 30, "check_interval": 600, "min_pause": 3600},
    {"type": "time_based", "volume_ml": 80, "times": ["19:30", "07:00:15"], "enabled": False},
])
def test_plans_round_trip(params):
    plan = WateringPlan.from_params("p1", params)
    assert WateringPlan.from_params("p1", plan.to_params()) == plan
    assert WateringPlan.from_dict(plan.to_dict()) == plan
    assert plan.to_dict()["key"] == "p1"


def test_times_are_sorted_and_parsed():
    plan = WateringPlan.from_params("t", {"type": "time_based", "volume_ml": 1, "times": ["19:30", "07:00"]})
    assert plan.times == ("07:00", "19:30")
    assert plan.type is PlanType.TIME_BASED
    assert time_of_day_seconds("07:00:15") == 7 * 3600 + 15


@pytest.mark.parametrize(("key", "params", "message"), [
    ("p", {"type": "weekly", "volume_ml": 1}, "'type' must be one of: basic, moisture, time_based"),
    ("p", {"type": "basic"}, "'volume_ml' is missing"),
    ("p", {"type": "basic", "volume_ml": -5}, "'volume_ml' must be a number above 0"),
    ("p", {"type": "basic", "volume_ml": True}, "'volume_ml' must be a number"),
    ("p", {"type": "moisture", "volume_ml": 5, "check_interval": 60}, "'threshold_pct' is missing"),
    ("p", {"type": "moisture", "volume_ml": 5, "threshold_pct": 130, "check_interval": 60}, "at most 100"),
    ("p", {"type": "time_based", "volume_ml": 5, "times": []}, "list of 1..48 times"),
    ("p", {"type": "time_based", "volume_ml": 5, "times": ["7pm"]}, "use HH:MM or HH:MM:SS"),
    ("p", {"type": "basic", "volume_ml": 5, "pump": "Main Pump"}, "'pump' must be a pump key"),
    ("Bad Key", {"type": "basic", "volume_ml": 5}, "plan key"),
])
def test_bad_plans_name_the_field(key, params, message):
    with pytest.raises(ProtocolError, match=message):
        WateringPlan.from_params(key, params)


def test_plans_round_trip_through_a_state():
    from hydro_fleet_protocol import State

    plan = WateringPlan.from_params("b1", {"type": "basic", "volume_ml": 50, "check_interval": 3600})
    state = State(ts=1.0, seq=1, readings={}, plans={"b1": plan.to_plan()})
    parsed = State.parse(encode(state))
    assert WateringPlan.from_params("b1", parsed.plans["b1"].to_dict()) == plan


def test_event_and_outcome_names_are_stable():
    assert {e.value for e in EventType} == {"pump_started", "pump_stopped", "watering_report", "safety_stop",
                                            "calibration", "duplicate_node", "buffer_dropped", "power_bank_returned"}
    assert [o.value for o in WateringOutcome] == ["ok", "skipped_low_water", "skipped_busy", "stopped_safety",
                                                  "failed"]


def test_the_integrations_plan_is_accepted_and_reported_back():
    from hydro_fleet_protocol import Plan

    sent = Plan(type=PlanType.MOISTURE, volume_ml=250, threshold=35, check_interval=600, min_pause=3600)
    plan = WateringPlan.from_params("plan", sent.to_dict() | {"pump": "pump"})
    assert plan.threshold_pct == 35
    assert Plan.from_dict(plan.to_plan().to_dict()) == sent
    basic = WateringPlan.from_params("plan", Plan(type=PlanType.BASIC, volume_ml=100, check_interval=3600).to_dict())
    assert basic.check_interval == 3600  # Plan's basic repeats every check_interval
    timed = WateringPlan.from_params("plan", {"type": "time_based", "volume_ml": 5, "times": ["07:00:30"]})
    assert timed.to_plan().times == ("07:00",)  # reported to the minute, as Plan allows
    off = WateringPlan.from_params("plan", {"type": "basic", "volume_ml": 5, "enabled": False})
    assert off.to_plan() == Plan(type=PlanType.OFF)
