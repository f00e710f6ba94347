"""Validation names every bad field; a good message becomes read-only arrays."""

import math

import numpy as np
import pytest
from builders import two_machine_problem
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.model.problem import Limits, Problem, ProblemError
from qsched.v1 import problem_pb2


def violations(message, limits=Limits()) -> dict[str, str]:
    with pytest.raises(ProblemError) as caught:
        Problem.from_message(message, limits)
    return {v.field: v.description for v in caught.value.violations}


def test_valid_message_becomes_arrays():
    problem = Problem.from_message(two_machine_problem())
    assert problem.task_ids == ("t0", "t1", "t2")
    assert problem.machine_ids == ("A", "B")
    assert problem.etc.tolist() == [[5.0, 10.0], [2.0, 4.0], [3.0, 6.0]]
    assert problem.resources == ("memory",)
    assert problem.deadline[1] == math.inf
    assert problem.level_count.tolist() == [2, 1]
    assert problem.edf_rank.tolist() == [1, 2, 0]
    with pytest.raises(ValueError):
        problem.etc[0, 0] = 1.0  # immutable


def test_both_weights_zero_means_makespan_only():
    message = two_machine_problem()
    message.ClearField("objective")
    problem = Problem.from_message(message)
    assert (problem.energy_weight, problem.makespan_weight) == (0.0, 1.0)


@pytest.mark.parametrize(
    "mutate, field, says",
    [
        (lambda m: setattr(m.tasks[1], "work", -4.0), "tasks[1].work", "> 0"),
        (lambda m: setattr(m.tasks[1], "work", math.nan), "tasks[1].work", "finite"),
        (lambda m: setattr(m.tasks[0], "deadline", -1.0), "tasks[0].deadline", ">= 0"),
        (lambda m: setattr(m.tasks[0], "deadline", math.inf), "tasks[0].deadline", "finite"),
        (lambda m: setattr(m.tasks[2], "load", 1.5), "tasks[2].load", "<= 1"),
        (
            lambda m: m.tasks[0].demand.update({"gpu": 1.0}),
            'tasks[0].demand["gpu"]',
            "no machine offers",
        ),
        (lambda m: m.tasks[0].demand.update({"memory": -2.0}), 'tasks[0].demand["memory"]', ">= 0"),
        (lambda m: setattr(m.tasks[2], "id", "t0"), "tasks[2].id", "duplicates"),
        (lambda m: setattr(m.machines[1], "id", ""), "machines[1].id", "empty"),
        (lambda m: setattr(m.machines[0], "speed", 0.0), "machines[0].speed", "> 0"),
        (
            lambda m: m.machines[0].capacity.update({"memory": math.inf}),
            'machines[0].capacity["memory"]',
            "finite",
        ),
        (
            lambda m: setattr(m.machines[1].linear_power, "peak_watts", 10.0),
            "machines[1].linear_power.peak_watts",
            ">= 50",
        ),
        (
            lambda m: m.machines[1].spec_power.watts.extend([1.0, 2.0]),
            "machines[1].spec_power.watts",
            "11 values",
        ),
        (
            lambda m: setattr(m.machines[0].dvfs_levels[1], "frequency", 0.0),
            "machines[0].dvfs_levels[1].frequency",
            "> 0",
        ),
        (lambda m: setattr(m, "power_cap_watts", 0.0), "power_cap_watts", "> 0"),
        (lambda m: setattr(m.objective, "energy_weight", -1.0), "objective.energy_weight", ">= 0"),
        (lambda m: m.ClearField("tasks"), "tasks", "at least one"),
        (lambda m: m.ClearField("machines"), "machines", "at least one"),
    ],
)
def test_each_bad_field_is_named(mutate, field, says):
    message = two_machine_problem()
    mutate(message)
    found = violations(message)
    assert field in found, found
    assert says in found[field]


def test_etc_rows_must_name_exactly_the_machines():
    message = two_machine_problem()
    message.tasks[0].ClearField("work")
    message.tasks[0].etc.update({"A": 1.0, "Z": 2.0})
    found = violations(message)
    assert "names an unknown machine" in found['tasks[0].etc["Z"]']
    assert "no entry for machine 'B'" in found["tasks[0].etc"]


def test_work_and_etc_together_are_ambiguous():
    message = two_machine_problem()
    message.tasks[0].etc.update({"A": 1.0, "B": 2.0})
    assert "either work or etc" in violations(message)["tasks[0]"]


def test_every_violation_is_reported_at_once():
    message = two_machine_problem()
    message.tasks[0].work = -1
    message.tasks[1].work = math.nan
    message.machines[0].speed = -2
    assert {"tasks[0].work", "tasks[1].work", "machines[0].speed"} <= set(violations(message))


def test_limits_bound_the_problem_size():
    message = two_machine_problem()
    assert "more than the limit of 2" in violations(message, Limits(max_tasks=2))["tasks"]
    assert "more than the limit of 1" in violations(message, Limits(max_machines=1))["machines"]
    assert "cells" in violations(message, Limits(max_cells=5))["tasks"]


def test_error_message_lists_fields():
    message = two_machine_problem()
    message.tasks[1].work = -4.0
    with pytest.raises(ProblemError, match=r"tasks\[1\]\.work must be > 0"):
        Problem.from_message(message)


def test_machine_without_power_model_draws_nothing():
    message = problem_pb2.AllocationProblem(
        tasks=[problem_pb2.Task(id="t", work=1.0)],
        machines=[problem_pb2.Machine(id="m", speed=1.0)],
    )
    problem = Problem.from_message(message)
    assert np.all(problem.idle_watts == 0) and np.all(problem.busy_watts == 0)


def test_runtime_that_overflows_is_rejected():
    message = two_machine_problem()
    message.machines[1].speed = 1e-320
    assert "runtime of inf s on machines[1]" in violations(message)["tasks[0]"]


def test_level_peak_watts_needs_a_rising_power_curve():
    message = two_machine_problem()
    message.machines[0].ClearField("linear_power")
    message.machines[0].dvfs_levels[1].peak_watts = 150.0
    assert "power model" in violations(message)["machines[0].dvfs_levels[1].peak_watts"]


def test_summed_runtimes_must_stay_finite():
    message = two_machine_problem()
    for task in message.tasks:
        task.ClearField("work")
        task.etc.update({"A": 1e308, "B": 1e308})
    assert "add up to more" in violations(message)["tasks"]


def etc_message(rows: list[list[float]]) -> problem_pb2.AllocationProblem:
    """A makespan-only message with explicit ETC rows on machines A, B."""
    message = problem_pb2.AllocationProblem(name="etc")
    message.machines.extend(problem_pb2.Machine(id=m) for m in ("A", "B"))
    message.tasks.extend(
        problem_pb2.Task(id=f"t{i}", etc={"A": a, "B": b}) for i, (a, b) in enumerate(rows)
    )
    return message


def test_an_etc_entry_of_zero_is_a_task_that_takes_no_time():
    # Published HCSP instances write such entries as 0.00.
    problem = Problem.from_message(etc_message([[0.0, 3.0], [0.0, 0.0]]))
    assert problem.etc.tolist() == [[0.0, 3.0], [0.0, 0.0]]
    assert problem.mean_etc == 0.75
    assert Problem.from_message(etc_message([[0.0, 0.0]])).mean_etc == 1.0


def test_a_work_that_underflows_to_a_zero_runtime_is_still_refused():
    message = two_machine_problem()
    message.tasks[0].work = 5e-324
    message.machines[0].speed = 1e10
    assert "underflows" in violations(message)["tasks[0]"]


def test_runtimes_that_add_up_past_the_float_maximum_are_refused():
    message = etc_message([[1e308, 1.0], [1e308, 1.0]])
    assert violations(message) == {
        "tasks": "runtimes on machines[0] add up to more than a float can hold"
    }


@settings(derandomize=True)
@given(
    st.lists(
        st.tuples(
            # Finite entries stay far enough below the float maximum that six of them add up
            # (a machine whose runtimes overflow is refused for that, as its own test shows).
            st.one_of(
                st.floats(min_value=-1e300, max_value=1e300),
                st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
            ),
            st.one_of(st.floats(min_value=0.0, max_value=1e6), st.just(-0.0)),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_etc_entries_load_exactly_when_finite_and_not_negative(rows):
    message = etc_message([list(row) for row in rows])
    bad = {
        f'tasks[{i}].etc["{machine}"]'
        for i, row in enumerate(rows)
        for machine, value in zip("AB", row, strict=True)
        if not (math.isfinite(value) and value >= 0)
    }
    if bad:
        assert bad <= set(violations(message))
    else:
        assert Problem.from_message(message).etc.tolist() == [list(row) for row in rows]
