"""Watering plans on the wire: slots in NodeConfig.plans, plans in State.plans and set_plan params."""

import json

import pytest

from hydro_fleet_protocol import (
    Ack,
    Command,
    CommandAction,
    EventType,
    NodeConfig,
    NodeKind,
    Plan,
    PlanConfig,
    PlanType,
    ProtocolError,
    PumpConfig,
    State,
    WateringOutcome,
    encode,
)


@pytest.mark.parametrize(
    "plan",
    [
        Plan(type=PlanType.OFF),
        Plan(type=PlanType.BASIC, volume_ml=250, check_interval=86400),
        Plan(type=PlanType.MOISTURE, volume_ml=100, threshold=30, check_interval=600, min_pause=3600),
        Plan(type=PlanType.TIME_BASED, volume_ml=80, times=("07:00", "19:30")),
    ],
)
def test_plans_round_trip_as_command_params_ack_result_and_state(plan):
    command = Command.parse(encode(Command("c1", CommandAction.SET_PLAN, "plan", plan.to_dict())))
    assert Plan.from_dict(command.params) == plan
    ack = Ack.parse(encode(Ack("c1", ok=True, result={"plan": plan.to_dict()})))
    assert Plan.from_dict(ack.result["plan"]) == plan
    state = State.parse(encode(State(ts=1.0, seq=1, readings={}, plans={"plan": plan})))
    assert state.plans == {"plan": plan}
    plan.check_runnable()


def test_times_are_sorted_and_deduplicated():
    plan = Plan.from_dict({"type": "time_based", "volume_ml": 1, "times": ["19:30", "07:00", "19:30"]})
    assert plan.times == ("07:00", "19:30")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "weekly", "volume_ml": 1}, "'type' is 'weekly', expected one of: off, basic, moisture, time_based"),
        ({"type": "basic", "volume_ml": -5}, "'volume_ml' must be >= 0"),
        ({"type": "basic", "volume_ml": True}, "'volume_ml' must be a number"),
        ({"type": "moisture", "threshold": 130}, "'threshold' must be <= 100"),
        ({"type": "time_based", "times": ["7pm"]}, "'times\\[0\\]' must be a time of day"),
        ({"type": "time_based", "times": ["25:00"]}, "not a valid time of day"),
        ({"type": "time_based", "times": ["07:00:15"]}, 'must be a time of day "HH:MM"'),
    ],
)
def test_bad_plans_name_the_field(params, message):
    with pytest.raises(ProtocolError, match=message):
        Plan.from_dict(params)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (Plan(type=PlanType.BASIC, volume_ml=50), "a basic plan needs 'check_interval'"),
        (Plan(type=PlanType.BASIC, check_interval=60), "a basic plan needs 'volume_ml'"),
        (Plan(type=PlanType.BASIC, volume_ml=0, check_interval=60), "'volume_ml' above 0"),
        (Plan(type=PlanType.MOISTURE, volume_ml=50, check_interval=60), "a moisture plan needs 'threshold'"),
        (Plan(type=PlanType.TIME_BASED, volume_ml=50), "a time_based plan needs 'times'"),
    ],
)
def test_a_node_runs_only_complete_plans(plan, message):
    with pytest.raises(ProtocolError, match=message):
        plan.check_runnable()


def test_an_off_plan_may_hold_fields_being_prepared():
    # HA edits a plan one field at a time, so an off slot can carry a volume before it is switched on.
    Plan(type=PlanType.OFF, volume_ml=250).check_runnable()


def test_plan_slots_ride_in_node_config():
    config = NodeConfig(
        node_id="pi-1",
        kind=NodeKind.PI,
        name="pi-1",
        pumps=(PumpConfig("a"), PumpConfig("b")),
        plans=(
            PlanConfig("a_plan", pump="a", name="A plan", max_volume_ml=300),
            PlanConfig("b_plan", pump="b", max_volume_ml=50),
        ),
    )
    assert NodeConfig.parse(encode(config)) == config
    broken = config.to_dict() | {"plans": [{"key": "x_plan", "pump": "x"}]}
    with pytest.raises(ProtocolError, match="names no pump"):
        NodeConfig.parse(json.dumps(broken))


def test_event_and_outcome_names_are_stable():
    assert {e.value for e in EventType} == {
        "pump_started",
        "pump_stopped",
        "watering_report",
        "safety_stop",
        "calibration",
        "duplicate_node",
        "buffer_dropped",
        "power_bank_returned",
    }
    assert [o.value for o in WateringOutcome] == ["ok", "skipped_low_water", "skipped_busy", "stopped_safety", "failed"]


def test_every_missing_field_is_named_at_once():
    plan = Plan(type=PlanType.MOISTURE)
    assert plan.missing() == ("volume_ml", "threshold", "check_interval")
    with pytest.raises(ProtocolError, match="a moisture plan needs 'volume_ml', 'threshold', 'check_interval'"):
        plan.check_runnable()
    assert Plan(type=PlanType.OFF).missing() == ()


def test_defaults_fill_only_what_is_unset_and_respect_the_slot():
    filled = Plan(type=PlanType.OFF).with_defaults(max_volume_ml=2000)
    assert (filled.volume_ml, filled.threshold, filled.check_interval, filled.min_pause) == (250, 30, 3600, 14400)
    assert Plan(type=PlanType.OFF).with_defaults(max_volume_ml=100).volume_ml == 100
    kept = Plan(type=PlanType.MOISTURE, volume_ml=400, threshold=0, min_pause=0).with_defaults(2000)
    assert (kept.volume_ml, kept.threshold, kept.min_pause) == (400, 0, 0)
    # Every type but time-based (whose times have no default) runs on the defaults alone.
    for plan_type in (PlanType.BASIC, PlanType.MOISTURE):
        Plan(type=plan_type).with_defaults(2000).check_runnable()
    assert Plan(type=PlanType.TIME_BASED).with_defaults(2000).missing() == ("times",)
