"""Results as wire messages: `Evaluation` -> `Schedule`, `Result` -> `SolveResponse`,
and a failure -> a `google.rpc.Status` (in a response, or as the call's status)."""

from __future__ import annotations

import numpy as np
from google.protobuf import json_format, struct_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from qsched.model.evaluate import Evaluation
from qsched.model.options import TYPE_NAMES, Option, OptionSpec
from qsched.model.problem import FieldViolation, Problem, ProblemError
from qsched.model.registry import SolverKind, SolverSpec
from qsched.model.solver import Result, StopReason, TracePoint
from qsched.v1 import schedule_pb2, scheduler_pb2

SOLVER_KINDS = {
    SolverKind.HEURISTIC: scheduler_pb2.SOLVER_KIND_HEURISTIC,
    SolverKind.METAHEURISTIC: scheduler_pb2.SOLVER_KIND_METAHEURISTIC,
    SolverKind.EXACT: scheduler_pb2.SOLVER_KIND_EXACT,
    SolverKind.QUANTUM: scheduler_pb2.SOLVER_KIND_QUANTUM,
}
STOP_REASONS = {
    StopReason.COMPLETED: scheduler_pb2.STOP_REASON_COMPLETED,
    StopReason.BUDGET: scheduler_pb2.STOP_REASON_BUDGET,
    StopReason.CANCELLED: scheduler_pb2.STOP_REASON_CANCELLED,
    StopReason.DEADLINE: scheduler_pb2.STOP_REASON_DEADLINE,
}


def metrics_message(evaluation: Evaluation) -> schedule_pb2.Metrics:
    return schedule_pb2.Metrics(
        energy_joules=evaluation.energy,
        makespan_seconds=evaluation.makespan,
        utilization=evaluation.utilization,
        deadline_misses=evaluation.deadline_misses,
        total_tardiness_seconds=evaluation.total_tardiness,
        capacity_violations=evaluation.capacity_violations,
        peak_power_watts=evaluation.peak_power,
        power_cap_excess_watts=evaluation.power_cap_excess,
        feasible=evaluation.feasible,
        objective=evaluation.objective,
    )


def schedule_message(problem: Problem, evaluation: Evaluation) -> schedule_pb2.Schedule:
    """The full schedule: assignment, per-machine plan in execution order, metrics."""
    assignment = evaluation.assignment
    schedule = schedule_pb2.Schedule(metrics=metrics_message(evaluation))
    for task_id, machine in zip(problem.task_ids, assignment, strict=True):
        schedule.assignment[task_id] = problem.machine_ids[machine]
    for machine, machine_id in enumerate(problem.machine_ids):
        tasks = np.flatnonzero(assignment == machine)
        tasks = tasks[np.argsort(evaluation.start[tasks], kind="stable")]
        schedule.machines.append(
            schedule_pb2.MachinePlan(
                machine_id=machine_id,
                dvfs_level=int(evaluation.levels[machine]),
                tasks=[
                    schedule_pb2.TaskSlot(
                        task_id=problem.task_ids[t],
                        start_seconds=float(evaluation.start[t]),
                        finish_seconds=float(evaluation.finish[t]),
                        deadline_missed=bool(evaluation.late[t]),
                    )
                    for t in tasks
                ],
                powered_on=bool(evaluation.powered_on[machine]),
                busy_seconds=float(evaluation.busy[machine]),
                energy_joules=float(evaluation.machine_energy[machine]),
                utilization=float(evaluation.busy[machine] / evaluation.makespan),
            )
        )
    return schedule


def trace_points(response: scheduler_pb2.SolveResponse) -> list[TracePoint]:
    """A response's convergence trace back as `TracePoint`s."""
    return [
        TracePoint(p.elapsed_seconds, p.evaluations, p.objective, p.feasible, p.stage)
        for p in response.convergence
    ]


def point_message(point: TracePoint) -> scheduler_pb2.ConvergencePoint:
    return scheduler_pb2.ConvergencePoint(
        elapsed_seconds=point.elapsed,
        evaluations=point.evaluations,
        objective=point.objective,
        feasible=point.feasible,
        stage=point.stage,
    )


def response_message(
    problem: Problem, result: Result, backend: str = ""
) -> scheduler_pb2.SolveResponse:
    facts = struct_pb2.Struct()
    facts.update(result.facts)
    return scheduler_pb2.SolveResponse(
        schedule=schedule_message(problem, result.evaluation),
        solver=result.solver,
        backend=backend,
        facts=facts,
        convergence=[point_message(p) for p in result.trace],
        elapsed_seconds=result.elapsed,
        evaluations=result.evaluations,
        stop_reason=STOP_REASONS[result.stop_reason],
        bound=result.bound,
        stage_seconds=result.stage_seconds,
    )


def option_message(spec: OptionSpec) -> scheduler_pb2.SolverOption:
    option = spec.option
    message = scheduler_pb2.SolverOption(
        name=spec.name,
        type=spec.type_name,
        description=option.doc,
        minimum=option.minimum,
        maximum=option.maximum,
        exclusive_minimum=option.exclusive_minimum,
        exclusive_maximum=option.exclusive_maximum,
        choices=option.choices,
    )
    json_format.ParseDict(spec.default, message.default_value)
    return message


def option_spec(message: scheduler_pb2.SolverOption) -> OptionSpec:
    """An option as `ListSolvers` describes it, back as an `OptionSpec`."""
    option = Option(
        doc=message.description,
        minimum=message.minimum if message.HasField("minimum") else None,
        maximum=message.maximum if message.HasField("maximum") else None,
        exclusive_minimum=message.exclusive_minimum,
        exclusive_maximum=message.exclusive_maximum,
        choices=tuple(message.choices),
    )
    kind = next(kind for kind, name in TYPE_NAMES.items() if name == message.type)
    return OptionSpec(
        message.name, kind, kind(json_format.MessageToDict(message.default_value)), option
    )


def solver_info(spec: SolverSpec) -> scheduler_pb2.SolverInfo:
    """What `ListSolvers` says about a solver, options included."""
    return scheduler_pb2.SolverInfo(
        name=spec.name,
        kind=SOLVER_KINDS[spec.kind],
        description=spec.description,
        max_tasks=spec.max_tasks,
        max_machines=spec.max_machines,
        finite=spec.finite,
        backends=spec.backends,
        options=[option_message(option) for option in spec.options.values()],
    )


def invalid_status(violations: list[FieldViolation]) -> status_pb2.Status:
    """INVALID_ARGUMENT with a `google.rpc.BadRequest` listing every bad field."""
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT, message=str(ProblemError(violations))
    )
    status.details.add().Pack(bad_request)
    return status


def failed_response(
    solver: str, backend: str, error: status_pb2.Status, elapsed: float
) -> scheduler_pb2.SolveResponse:
    """A Compare entry for a solver that ended without a schedule (see `SolveResponse.error`)."""
    return scheduler_pb2.SolveResponse(
        solver=solver, backend=backend, elapsed_seconds=elapsed, error=error
    )
