"""The evaluator against hand-computed schedules (see builders.two_machine_problem)."""

import numpy as np
import pytest
from builders import two_machine_problem

from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem
from qsched.v1 import problem_pb2

A, B = 0, 1
# t0 -> A, t1 -> B, t2 -> A
ASSIGNMENT = [A, B, A]


def test_full_speed_schedule_by_hand():
    result = evaluate(Problem.from_message(two_machine_problem()), ASSIGNMENT)
    # A runs t2 (deadline 3) before t0 (deadline 8): t2 in [0, 3], t0 in [3, 8];
    # B runs t1 in [0, 4].
    assert result.start.tolist() == [3.0, 0.0, 0.0]
    assert result.finish.tolist() == [8.0, 4.0, 3.0]
    assert result.makespan == 8.0
    # A: 8 s at 200 W; B: 4 s at 100 W then 4 s idle at 50 W.
    assert result.machine_energy.tolist() == [1600.0, 600.0]
    assert result.energy == 2200.0
    assert result.utilization == (8 + 4) / (2 * 8)
    assert result.peak_power == 300.0  # both busy at t = 0
    assert result.deadline_misses == 0
    assert result.objective == 2200.0 + 10 * 8.0
    # memory on A: 2 + 4 = 6 <= 6; on B: 2 <= 8
    assert result.capacity_violations == 0
    assert result.feasible


def test_half_frequency_scales_runtime_and_cubes_dynamic_power():
    result = evaluate(Problem.from_message(two_machine_problem()), ASSIGNMENT, levels=[1, 0])
    # Runtimes on A double: t2 in [0, 6], t0 in [6, 16]; A draws 100 + 0.5^3 * 100 = 112.5 W.
    assert result.finish.tolist() == [16.0, 4.0, 6.0]
    assert result.makespan == 16.0
    assert result.machine_energy.tolist() == [16 * 112.5, 4 * 100 + 12 * 50]
    assert result.peak_power == 212.5
    # t2 is 3 s late, t0 8 s late.
    assert result.late.tolist() == [True, False, True]
    assert result.deadline_misses == 2
    assert result.total_tardiness == 11.0
    assert not result.feasible


def test_power_cap_violation_is_the_excess_of_the_peak():
    message = two_machine_problem(power_cap_watts=250.0)
    result = evaluate(Problem.from_message(message), ASSIGNMENT)
    assert result.peak_power == 300.0
    assert result.power_cap_excess == 50.0
    assert not result.feasible
    # At half speed on A the peak is 212.5 W: within the cap (deadlines aside).
    assert (
        evaluate(Problem.from_message(message), ASSIGNMENT, levels=[1, 0]).power_cap_excess == 0.0
    )


def test_capacity_is_summed_over_the_tasks_on_a_machine():
    # All three on A: memory 2 + 2 + 4 = 8 > 6.
    result = evaluate(Problem.from_message(two_machine_problem()), [A, A, A])
    assert result.capacity_violations == 1
    assert not result.feasible
    assert result.violation > 0


def test_idle_machines_are_off_unless_kept_on():
    problem = Problem.from_message(two_machine_problem())
    everything_on_a = [A, A, A]
    off = evaluate(problem, everything_on_a)
    assert off.powered_on.tolist() == [True, False]
    assert off.machine_energy[B] == 0.0
    kept_on = evaluate(
        Problem.from_message(two_machine_problem(idle_machines_on=True)), everything_on_a
    )
    # makespan 10 s (work 20 at speed 2); B idles at 50 W the whole time.
    assert kept_on.makespan == 10.0
    assert kept_on.machine_energy[B] == 500.0
    assert kept_on.peak_power == 250.0


def test_spec_power_curve_is_interpolated_at_the_task_load():
    message = two_machine_problem()
    message.machines[B].spec_power.CopyFrom(
        problem_pb2.SpecPowerCurve(watts=[100 + 10 * k for k in range(11)])
    )
    message.tasks[1].load = 0.55
    result = evaluate(Problem.from_message(message), ASSIGNMENT)
    # t1 on B: 4 s at 155 W (between 150 W at 50% and 160 W at 60%), then 4 s idle at 100 W.
    assert result.machine_energy[B] == pytest.approx(4 * 155 + 4 * 100)


def test_level_with_its_own_peak_watts_replaces_the_cube_law():
    message = two_machine_problem()
    message.machines[A].dvfs_levels[1].peak_watts = 150.0
    result = evaluate(Problem.from_message(message), ASSIGNMENT, levels=[1, 0])
    assert result.machine_energy[A] == 16 * 150.0


def test_explicit_etc_rows_override_work_and_speed():
    message = two_machine_problem()
    message.tasks[1].ClearField("work")
    message.tasks[1].etc.update({"A": 1.0, "B": 7.0})
    result = evaluate(Problem.from_message(message), ASSIGNMENT)
    assert result.finish[1] == 7.0


def test_first_machine_empty():
    result = evaluate(Problem.from_message(two_machine_problem()), [B, B, B])
    # B runs t2 [0, 6], t0 [6, 16], t1 [16, 20]; A is off.
    assert result.finish.tolist() == [16.0, 20.0, 6.0]
    assert result.busy.tolist() == [0.0, 20.0]
    assert result.machine_energy.tolist() == [0.0, 2000.0]


def test_ties_in_deadline_run_in_task_order():
    message = two_machine_problem()
    for task in message.tasks:
        task.ClearField("deadline")
    result = evaluate(Problem.from_message(message), [A, A, A])
    assert np.argsort(result.start).tolist() == [0, 1, 2]


def test_key_orders_feasible_before_infeasible_then_by_objective():
    problem = Problem.from_message(two_machine_problem())
    feasible = evaluate(problem, ASSIGNMENT)
    infeasible = evaluate(problem, [A, A, A])
    assert feasible.key < infeasible.key


@pytest.mark.parametrize("assignment", [[0, 1], [0, 1, 2], [-1, 0, 0]])
def test_rejects_malformed_assignments(assignment):
    with pytest.raises(ValueError):
        evaluate(Problem.from_message(two_machine_problem()), assignment)


def test_rejects_levels_beyond_a_machines_levels():
    with pytest.raises(ValueError, match="levels"):
        evaluate(Problem.from_message(two_machine_problem()), ASSIGNMENT, levels=[0, 1])
