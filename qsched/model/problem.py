"""The immutable in-memory allocation problem, built from the wire message.

`Problem` holds everything the evaluator and the solvers need as read-only
NumPy arrays indexed by task and machine, so that every piece of qsched reads
one representation. `Problem.from_message` is the single place where a
`qsched.v1.AllocationProblem` is checked; a bad message raises
`ProblemError` listing every offending field by its path
(``tasks[3].work``), which the service turns into `INVALID_ARGUMENT`.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qsched.v1 import problem_pb2

#: Load points of a SPECpower curve: 0%, 10%, ..., 100%.
CURVE_POINTS = 11
#: Most DVFS levels a machine may list.
MAX_DVFS_LEVELS = 16
#: Longest problem name, id or resource name; a longer one is refused, so no message
#: (and no field path) ever carries unbounded client text.
MAX_NAME_LENGTH = 256
#: Longest client text quoted back in a message.
QUOTED_LENGTH = 64
#: Largest allowed DVFS frequency factor.
MAX_FREQUENCY = 4.0


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one field, addressed by its path in the message."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field} {self.description}"


class ProblemError(ValueError):
    """A problem message that cannot be solved; lists every bad field."""

    def __init__(self, violations: list[FieldViolation]):
        self.violations = violations
        shown = "; ".join(str(v) for v in violations[:5])
        more = f" (and {len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"invalid input: {shown}{more}")


@dataclass(frozen=True)
class Limits:
    """Largest problem accepted; the service sets these from its flags.

    The defaults are the largest shapes at which every classical solver still answers
    within a 5 s budget on a 2-core machine, first schedule and memory included (the
    measurements are in the operations guide, under Limits). Larger requests are refused
    naming the field; raise them with ``qsched serve --max-tasks/--max-machines/--max-cells``.
    """

    max_tasks: int = 100_000
    max_machines: int = 10_000
    max_cells: int = 20_000_000  # tasks * machines: the ETC and busy-watts matrices


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Problem:
    """A validated allocation problem as arrays (T tasks, M machines, R resources, L levels).

    Attributes:
        etc: (T, M) seconds to run each task on each machine at frequency 1.
        demand: (T, R) resource demand per task.
        capacity: (M, R) resource capacity per machine.
        deadline: (T,) latest finish time, ``inf`` where a task has none.
        frequency: (M, L) DVFS frequency factors, padded with ``nan``.
        level_count: (M,) number of real levels per machine.
        idle_watts: (M,) power while on and idle (0 without a power model).
        busy_watts: (T, M) power while running the task at frequency 1 (curve at the task's load).
        dynamic_scale: (M, L) factor on (busy - idle) watts at each level.
        edf_rank: (T,) position of each task in earliest-deadline order.
        fastest_levels: (M,) index of each machine's highest-frequency level.
        models_power: whether any machine has a power model (else energy and power are 0).
        demand_unit: (R,) mean task demand per resource (1 where it is 0): the unit of
            capacity excess in a schedule's violation.
        mean_etc: mean ETC entry (s; 1 where every entry is 0): the unit of tardiness in a
            schedule's violation.
    """

    name: str
    task_ids: tuple[str, ...]
    machine_ids: tuple[str, ...]
    resources: tuple[str, ...]
    etc: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    deadline: np.ndarray
    frequency: np.ndarray
    level_count: np.ndarray
    idle_watts: np.ndarray
    busy_watts: np.ndarray
    dynamic_scale: np.ndarray
    power_cap: float
    energy_weight: float
    makespan_weight: float
    idle_machines_on: bool
    edf_rank: np.ndarray = field(init=False)
    fastest_levels: np.ndarray = field(init=False)
    models_power: bool = field(init=False)
    demand_unit: np.ndarray = field(init=False)
    mean_etc: float = field(init=False)

    def __post_init__(self) -> None:
        order = np.lexsort((np.arange(self.num_tasks), self.deadline))
        rank = np.empty(self.num_tasks, dtype=np.int64)
        rank[order] = np.arange(self.num_tasks)
        object.__setattr__(self, "edf_rank", _frozen(rank))
        object.__setattr__(self, "fastest_levels", _frozen(np.nanargmax(self.frequency, axis=1)))
        object.__setattr__(
            self, "models_power", bool(self.busy_watts.any() or self.idle_watts.any())
        )
        mean_demand = self.demand.mean(axis=0)
        object.__setattr__(
            self, "demand_unit", _frozen(np.where(mean_demand > 0, mean_demand, 1.0))
        )
        # The unit of tardiness; 1 s where every task takes no time at all.
        object.__setattr__(self, "mean_etc", float(self.etc.mean()) or 1.0)

    def task_watts(
        self, tasks: int | np.ndarray, machines: int | np.ndarray, levels: int | np.ndarray
    ) -> np.ndarray:
        """Watts while ``tasks`` run on ``machines`` at ``levels`` (broadcast index arrays):
        idle power plus `dynamic_watts`."""
        watts: np.ndarray = self.idle_watts[machines] + self.dynamic_watts(tasks, machines, levels)
        return watts

    def dynamic_watts(
        self, tasks: int | np.ndarray, machines: int | np.ndarray, levels: int | np.ndarray
    ) -> np.ndarray:
        """Watts above idle while ``tasks`` run on ``machines`` at ``levels`` (broadcast index
        arrays): the task's draw above idle, scaled for the DVFS level."""
        dynamic = self.busy_watts[tasks, machines] - self.idle_watts[machines]
        watts: np.ndarray = self.dynamic_scale[machines, levels] * dynamic
        return watts

    @property
    def num_tasks(self) -> int:
        return len(self.task_ids)

    @property
    def num_machines(self) -> int:
        return len(self.machine_ids)

    @classmethod
    def from_message(
        cls, message: problem_pb2.AllocationProblem, limits: Limits = Limits()
    ) -> Problem:
        """Validate ``message`` and convert it; raises `ProblemError` naming every bad field."""
        return _Builder(message, limits).build()


class _Builder:
    """Collects field violations while converting a message into arrays."""

    def __init__(self, message: problem_pb2.AllocationProblem, limits: Limits):
        self.message = message
        self.limits = limits
        self.violations: list[FieldViolation] = []

    def fail(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(path, description))

    def number(self, path: str, value: float, *, low: float, strict: bool = False) -> bool:
        """Check ``value`` is finite and above ``low``; report and return False if not."""
        if not math.isfinite(value):
            self.fail(path, "must be a finite number")
            return False
        if value < low or (strict and value == low):
            self.fail(path, f"must be {'>' if strict else '>='} {low:g}")
            return False
        return True

    def unique_ids(self, kind: str, ids: list[str]) -> None:
        seen: dict[str, int] = {}
        for index, identifier in enumerate(ids):
            if not identifier:
                self.fail(f"{kind}[{index}].id", "must not be empty")
            elif not self.short(f"{kind}[{index}].id", identifier):
                continue
            elif identifier in seen:
                self.fail(
                    f"{kind}[{index}].id",
                    f"duplicates {kind}[{seen[identifier]}].id {quoted(identifier)}",
                )
            else:
                seen[identifier] = index

    def check_size(self) -> bool:
        msg, limits = self.message, self.limits
        if not msg.tasks:
            self.fail("tasks", "must list at least one task")
        elif len(msg.tasks) > limits.max_tasks:
            self.fail(
                "tasks", f"has {len(msg.tasks)} tasks, more than the limit of {limits.max_tasks}"
            )
        if not msg.machines:
            self.fail("machines", "must list at least one machine")
        elif len(msg.machines) > limits.max_machines:
            self.fail(
                "machines",
                f"has {len(msg.machines)} machines, more than the limit of {limits.max_machines}",
            )
        if not self.violations and len(msg.tasks) * len(msg.machines) > limits.max_cells:
            self.fail(
                "tasks",
                f"{len(msg.tasks)} tasks x {len(msg.machines)} machines exceeds the limit "
                f"of {limits.max_cells} cells",
            )
        return not self.violations

    def build(self) -> Problem:
        if not self.check_size():
            raise ProblemError(self.violations)
        msg = self.message
        self.short("name", msg.name)
        machine_ids = [m.id for m in msg.machines]
        self.unique_ids("tasks", [t.id for t in msg.tasks])
        self.unique_ids("machines", machine_ids)
        resources = self.resources()
        etc = self.etc_matrix(machine_ids)
        demand = self.resource_matrix("tasks", [t.demand for t in msg.tasks], "demand", resources)
        capacity = self.resource_matrix(
            "machines", [m.capacity for m in msg.machines], "capacity", resources
        )
        deadline = self.deadlines()
        load = self.loads()
        curves = self.power_curves()
        frequency, level_count, level_peak = self.dvfs_levels(curves)
        power_cap = self.power_cap()
        energy_weight, makespan_weight = self.weights()
        if self.violations:
            raise ProblemError(self.violations)

        busy_watts = curve_at(curves, load)
        idle = curves[:, 0]
        full = curves[:, -1]
        dynamic = np.where(np.isnan(frequency), np.nan, frequency**3)
        span = full - idle
        with np.errstate(invalid="ignore", divide="ignore"):
            own = (level_peak - idle[:, None]) / span[:, None]
        dynamic = np.where(np.isnan(level_peak), dynamic, own)
        return Problem(
            name=msg.name,
            task_ids=tuple(t.id for t in msg.tasks),
            machine_ids=tuple(machine_ids),
            resources=tuple(resources),
            etc=_frozen(etc),
            demand=_frozen(demand),
            capacity=_frozen(capacity),
            deadline=_frozen(deadline),
            frequency=_frozen(frequency),
            level_count=_frozen(level_count),
            idle_watts=_frozen(idle.copy()),
            busy_watts=_frozen(busy_watts),
            dynamic_scale=_frozen(dynamic),
            power_cap=power_cap,
            energy_weight=energy_weight,
            makespan_weight=makespan_weight,
            idle_machines_on=msg.idle_machines_on,
        )

    def short(self, path: str, text: str) -> bool:
        """Whether ``text`` is at most `MAX_NAME_LENGTH` characters (else a violation)."""
        if len(text) <= MAX_NAME_LENGTH:
            return True
        self.fail(path, f"is {len(text)} characters long; at most {MAX_NAME_LENGTH}")
        return False

    def resources(self) -> list[str]:
        for index, machine in enumerate(self.message.machines):
            for name in machine.capacity:
                self.short(f"machines[{index}].capacity[{_key(name)}]", name)
        offered = {name for m in self.message.machines for name in m.capacity}
        for index, task in enumerate(self.message.tasks):
            for name in sorted(task.demand):
                if name not in offered:
                    self.fail(
                        f"tasks[{index}].demand[{_key(name)}]", "names a resource no machine offers"
                    )
        return sorted(offered)

    def etc_matrix(self, machine_ids: list[str]) -> np.ndarray:
        msg = self.message
        column = {identifier: j for j, identifier in enumerate(machine_ids)}
        speeds = np.array([m.speed for m in msg.machines], dtype=float)
        etc = np.full((len(msg.tasks), len(machine_ids)), np.nan)
        needs_speed = False
        for i, task in enumerate(msg.tasks):
            path = f"tasks[{i}]"
            if task.etc and task.work:
                self.fail(path, "must give either work or etc, not both")
            elif task.etc:
                self.etc_row(path, task.etc, column, etc[i])
            elif self.number(f"{path}.work", task.work, low=0.0, strict=True):
                needs_speed = True
                etc[i] = task.work
        if needs_speed:
            for j, speed in enumerate(speeds):
                self.number(f"machines[{j}].speed", speed, low=0.0, strict=True)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                work_rows = np.array([not t.etc for t in msg.tasks])
                etc[work_rows] = etc[work_rows] / speeds
        if not self.violations:
            self.check_runtimes(etc)
        return etc

    def etc_row(
        self, path: str, entries: Mapping[str, float], column: dict[str, int], row: np.ndarray
    ) -> None:
        """Fill ``row`` from a task's explicit ETC map. A valid entry costs one lookup and one
        comparison: a published 4,096 x 128 instance has 524,288 of them, so field paths
        are only spelled out for the entries that fail."""
        complete = len(entries) == len(column)
        for name, seconds in entries.items():
            j = column.get(name)
            if j is None:
                complete = False
                self.fail(f"{path}.etc[{_key(name)}]", "names an unknown machine")
            elif seconds >= 0.0 and math.isfinite(seconds):
                row[j] = seconds
            else:
                self.number(f"{path}.etc[{_key(name)}]", seconds, low=0.0)
        missing = [] if complete else [m for m in column if m not in entries]
        if missing:
            self.fail(f"{path}.etc", f"has no entry for machine {quoted(missing[0])}")

    def check_runtimes(self, etc: np.ndarray) -> None:
        """Every runtime must be a finite number of seconds, and every machine's total too.

        An ETC entry of 0 is a task that takes no time on that machine (published HCSP
        instances have them); a runtime from ``work / speed`` must still be positive,
        since a zero there means the division underflowed."""
        from_work = np.array([not task.etc for task in self.message.tasks])[:, None]
        valid = np.isfinite(etc) & ((etc > 0) | (~from_work & (etc == 0)))
        for i, j in np.argwhere(~valid)[:5]:
            self.fail(
                f"tasks[{i}]",
                f"has a runtime of {etc[i, j]:g} s on machines[{j}]: "
                "work / speed over- or underflows",
            )
        with np.errstate(over="ignore"):
            totals = etc.sum(axis=0)
        for j in np.flatnonzero(~np.isfinite(totals))[:5]:
            self.fail("tasks", f"runtimes on machines[{j}] add up to more than a float can hold")

    def resource_matrix(
        self, kind: str, maps: Sequence[Mapping[str, float]], name: str, resources: list[str]
    ) -> np.ndarray:
        column = {r: k for k, r in enumerate(resources)}
        matrix = np.zeros((len(maps), len(resources)))
        for i, amounts in enumerate(maps):
            for resource, amount in amounts.items():
                if resource in column and self.number(
                    f"{kind}[{i}].{name}[{_key(resource)}]", amount, low=0.0
                ):
                    matrix[i, column[resource]] = amount
        return matrix

    def deadlines(self) -> np.ndarray:
        deadline = np.full(len(self.message.tasks), np.inf)
        for i, task in enumerate(self.message.tasks):
            if task.HasField("deadline") and self.number(
                f"tasks[{i}].deadline", task.deadline, low=0.0
            ):
                deadline[i] = task.deadline
        return deadline

    def loads(self) -> np.ndarray:
        load = np.ones(len(self.message.tasks))
        for i, task in enumerate(self.message.tasks):
            if task.HasField("load") and self.number(
                f"tasks[{i}].load", task.load, low=0.0, strict=True
            ):
                if task.load > 1:
                    self.fail(f"tasks[{i}].load", "must be <= 1")
                load[i] = task.load
        return load

    def dvfs_levels(self, curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        machines = self.message.machines
        width = max(1, max(len(m.dvfs_levels) for m in machines))
        frequency = np.full((len(machines), width), np.nan)
        level_peak = np.full((len(machines), width), np.nan)
        counts = np.ones(len(machines), dtype=np.int64)
        for j, machine in enumerate(machines):
            levels = machine.dvfs_levels
            if len(levels) > MAX_DVFS_LEVELS:
                self.fail(
                    f"machines[{j}].dvfs_levels",
                    f"has {len(levels)} levels, more than {MAX_DVFS_LEVELS}",
                )
                continue
            if not levels:
                frequency[j, 0] = 1.0
                continue
            counts[j] = len(levels)
            idle, full = curves[j, 0], curves[j, -1]
            for k, level in enumerate(levels):
                path = f"machines[{j}].dvfs_levels[{k}]"
                if self.number(f"{path}.frequency", level.frequency, low=0.0, strict=True):
                    if level.frequency > MAX_FREQUENCY:
                        self.fail(f"{path}.frequency", f"must be <= {MAX_FREQUENCY:g}")
                    frequency[j, k] = level.frequency
                if level.HasField("peak_watts") and self.number(
                    f"{path}.peak_watts", level.peak_watts, low=idle
                ):
                    if full <= idle:
                        self.fail(
                            f"{path}.peak_watts",
                            "needs a machine power model that rises above idle",
                        )
                    level_peak[j, k] = level.peak_watts
        return frequency, counts, level_peak

    def power_curves(self) -> np.ndarray:
        """(M, 11) watts at 0%..100% load; zeros for a machine without a power model."""
        machines = self.message.machines
        curves = np.zeros((len(machines), CURVE_POINTS))
        for j, machine in enumerate(machines):
            model = machine.WhichOneof("power_model")
            if model == "linear_power":
                power = machine.linear_power
                ok = self.number(
                    f"machines[{j}].linear_power.idle_watts", power.idle_watts, low=0.0
                )
                ok &= self.number(
                    f"machines[{j}].linear_power.peak_watts",
                    power.peak_watts,
                    low=power.idle_watts if ok else 0.0,
                )
                if ok:  # both checked: a NaN idle would make the whole curve NaN
                    curves[j] = np.linspace(power.idle_watts, power.peak_watts, CURVE_POINTS)
            elif model == "spec_power":
                watts = list(machine.spec_power.watts)
                path = f"machines[{j}].spec_power.watts"
                if len(watts) != CURVE_POINTS:
                    self.fail(
                        path, f"must have {CURVE_POINTS} values (0%..100% load), has {len(watts)}"
                    )
                elif all(self.number(f"{path}[{k}]", w, low=0.0) for k, w in enumerate(watts)):
                    if any(b < a for a, b in itertools.pairwise(watts)):
                        self.fail(path, "must be non-decreasing")
                    curves[j] = watts
        return curves

    def power_cap(self) -> float:
        msg = self.message
        if msg.HasField("power_cap_watts") and self.number(
            "power_cap_watts", msg.power_cap_watts, low=0.0, strict=True
        ):
            return float(msg.power_cap_watts)
        return math.inf

    def weights(self) -> tuple[float, float]:
        objective = self.message.objective
        ok = self.number("objective.energy_weight", objective.energy_weight, low=0.0)
        ok &= self.number("objective.makespan_weight", objective.makespan_weight, low=0.0)
        if ok and objective.energy_weight == 0 and objective.makespan_weight == 0:
            return 0.0, 1.0
        return float(objective.energy_weight), float(objective.makespan_weight)


def _key(name: str) -> str:
    """A map key as it appears in a field path: ``etc["m3"]`` (cut to `QUOTED_LENGTH`)."""
    return json.dumps(cut(name))


def quoted(text: str) -> str:
    """Client text quoted in a message, cut to `QUOTED_LENGTH` characters."""
    return repr(cut(text))


def cut(text: str) -> str:
    """Client text cut to `QUOTED_LENGTH` characters, for messages and field paths."""
    return text if len(text) <= QUOTED_LENGTH else text[: QUOTED_LENGTH - 3] + "..."


def curve_at(curves: np.ndarray, load: np.ndarray) -> np.ndarray:
    """(T, M) watts: each machine's 11-point curve interpolated at each task's load."""
    position = load * (CURVE_POINTS - 1)
    low = np.minimum(np.floor(position).astype(np.int64), CURVE_POINTS - 2)
    weight = (position - low)[:, None]
    watts: np.ndarray = curves[:, low].T * (1 - weight) + curves[:, low + 1].T * weight
    return watts
