"""Exact re-optimisation inside a search: slack and reduced MIPs, then machine neighbourhoods.

Why: on the published HCSP instances, single moves and swaps stall a few
tenths of a percent above the best known schedules, where improving the
makespan needs chains of moves through machines that all finish near it.
A MIP finds such chains at once when it is small enough to solve, so the
search makes it small (the approach of Fanjul-Peyro & Ruiz's size reduction
and of Gogos et al.'s column pricing with restarts):

0. **Tabu burst.** The tabu search from the start closes most of the gap that
   single moves can close, cheaply, in rounds of `BURST_ROUND` x T scored
   proposals, up to `tabu_steps` x T (at most half an evaluation budget). It
   ends at the first round that finds nothing better: on the large consistent
   instances the tabu search stalls within a round of its start, and the
   rounds it would go on for are the neighbourhoods' best time.
1. **Slack.** A local optimum of the makespan can spend busy time that a
   better schedule does not (on the inconsistent instances, many tasks sit on
   slower machines than in the LP's optimum), and giving it back takes long
   chains of moves through many machines. The slack MIP (`slack_cells`) frees
   a few tasks on every machine, each on its own and its few machines of least
   loss, holds the rest where they are, and floors the makespan
   `SLACK_TARGET` below the current one: once there (or as near as it gets)
   it lowers the busy time. MIPs follow while they lower it, then a tabu burst
   spreads the room they made over the machines that finish last.
2. **Size reduction.** The LP relaxation's reduced costs say which machines
   can matter for a task: the model keeps each task's ``candidates``
   machines of least reduced cost, every machine the LP uses it on, and the
   machine it has in the best schedule (so that schedule is a warm start).
   That MIP (a few columns per task instead of M) runs from the best schedule
   for ``reduced_share`` of the budget.
3. **Machine neighbourhoods.** Then, over and over: where the makespan and
   busy time are the whole objective, first share the last machine's tasks
   with each other machine in turn by the exact best split of the pair
   (`qsched.search.two_machines`, a fraction of a millisecond against tens for
   a sub-MIP), and keep the first that makes room by the rule below. When no
   pair does, free the tasks of the machine that finishes last and of
   ``size - 1`` other machines (drawn with weight on those with room for its
   tasks), and solve that sub-MIP (those tasks x machines) to optimality or to
   its `NEIGHBOURHOOD_IMPROVEMENTS`-th improving schedule, whichever comes
   first. A pair or a sub-MIP frees at most `FREE_PER_MACHINE` tasks of each
   machine, those that lose least on another of its machines (`freed_tasks`);
   the others stay, and their busy time counts.
   Its result is kept when the evaluator finds it no worse and it lowers the
   neighbourhood's last finish or, at an equal one, its busy time: the
   schedule's makespan never rises and every kept step makes room. The size
   adapts: one machine more after ``M`` sub-MIPs in a row kept nothing (a
   local optimum for that size), one fewer when a sub-MIP runs out of nodes
   or time, down to two machines, or three where pairs are split exactly.
   After `SLACK_IDLE` neighbourhoods in a row keep nothing, step 1 runs again.
4. **Restarts.** When the neighbourhoods reach `MAX_SIZE` machines and still
   keep nothing, step 2 runs again from the best schedule with one more
   candidate machine per task; once it keeps every machine (the whole
   problem, on small ones), the rest of the budget goes to the tabu search.

5. **Cooperation** (with a `Team`: ``workers`` > 1). Every `EPOCH` x M
   neighbourhoods the workers exchange their schedules and bounds
   (`qsched.search.cooperation`, at epochs counted in steps, so a seed still
   gives one answer) and each relinks: the MIP over every cell its schedule or
   an elite uses holds every schedule on the paths between them and finds the
   best; it continues from that or the best elite, whichever is better.

Every sub-MIP's schedule is scored by the one evaluator (one evaluation
each). The MIPs are limited by node counts, so an evaluation budget gives
the same schedule every run; a wall budget limits them by time as well, and
a stop request returns at once (`qsched.search.assignment_mip.run_until`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qsched.model.evaluate import Evaluation
from qsched.search.assignment_mip import AssignmentModel, Cells, IntArray, MipAnswer, solve_mip
from qsched.search.cooperation import Team
from qsched.search.list_scheduling import fastest_runtimes
from qsched.search.neighbourhood import TABU, tabu_search
from qsched.search.relaxation import solve_relaxation_once
from qsched.search.tracker import SolveTracker
from qsched.search.two_machines import best_split

#: Tabu proposals per task in one round of the burst (step 0).
BURST_ROUND = 100
#: Largest neighbourhood (machines); past it the search restarts from step 2.
MAX_SIZE = 12
#: A neighbourhood's sub-MIP ends at this many improving schedules (its start is the first),
#: without HiGHS's own sub-MIP heuristics: it then takes a fraction of the time of a proof
#: of optimality for most of its gain, and the search goes on to the next neighbourhood.
NEIGHBOURHOOD_IMPROVEMENTS = 3
#: Most tasks of one machine a neighbourhood frees (the rest stay where they are): those
#: that lose least moving to another machine of it. A pair's two machines' worth is the
#: exact split's `qsched.search.two_machines.MAX_TASKS`.
FREE_PER_MACHINE = 64
#: The slack MIP (`slack_cells`): tasks it frees on each machine at first (one more after a
#: MIP solved in its limits, one fewer after one that was not), the other machines each may
#: go to, the spread of the random factor on their losses (log-normal), how far below the
#: makespan its floor is (relative), and its share of the time left.
SLACK_FREE = 3
SLACK_MACHINES = 3
SLACK_NOISE = 0.3
SLACK_TARGET = 1e-3
SLACK_SHARE = 0.1
#: Tabu rounds in a row without a better schedule that end the burst after slack MIPs.
SLACK_PATIENCE = 3
#: Neighbourhoods in a row that keep nothing before the search makes slack again.
SLACK_IDLE = 16
#: Neighbourhoods per machine between two exchanges of cooperating workers.
EPOCH = 4
#: Weight of busy time against the makespan in every MIP's objective (per machine), small
#: enough never to trade a makespan for it.
TIE_WEIGHT = 1e-4


@dataclass(frozen=True)
class MatheuristicSettings:
    """The search's knobs (the solver's options)."""

    candidates: int = 3
    reduced_share: float = 0.3
    reduced_nodes: int = 20_000
    size: int = 4
    nodes: int = 1_000
    seconds: float = 0.5
    tabu_steps: int = 1_000


def promising_cells(
    tracker: SolveTracker, assignment: IntArray, candidates: int
) -> npt.NDArray[np.bool_]:
    """Each task's ``candidates`` machines of least LP reduced cost (of least runtime where
    the LP is too large or finds no optimum in time), those the LP uses, and its own."""
    problem = tracker.problem
    runtimes = fastest_runtimes(problem)
    tasks = np.arange(problem.num_tasks)
    guide, used = runtimes, np.zeros(runtimes.shape, dtype=bool)
    relaxation = solve_relaxation_once(tracker)
    if relaxation is not None:
        guide = relaxation.reduced_cost + 1e-9 * runtimes / runtimes.max(initial=1.0)
        used = relaxation.x > 0
    keep = min(candidates, problem.num_machines)
    allowed = used.copy()
    best = np.argpartition(guide, keep - 1, axis=1)[:, :keep]
    allowed[tasks[:, None], best] = True
    allowed[tasks, assignment] = True
    return allowed


def freed_tasks(
    runtimes: npt.NDArray[np.float64], assignment: IntArray, machines: IntArray, most: int
) -> IntArray:
    """The tasks on ``machines`` that a neighbourhood of them re-optimises, sorted: on each
    machine at most ``most``, those whose runtime rises least (as a ratio) on the cheapest
    other of ``machines``; the rest stay where they are.

    Why: on a consistent instance the fastest machines hold hundreds of short tasks, and a
    sub-MIP over all of them spends its time limit in the root node (a pair, its exact
    split's task limit), while the few that another machine of the neighbourhood runs
    nearly as fast are the ones a better schedule moves."""
    tasks = np.flatnonzero(np.isin(assignment, machines)).astype(np.int64)
    on = assignment[tasks]
    loss = _losses(runtimes[np.ix_(tasks, machines)], runtimes[tasks, on])
    loss[on[:, None] == machines] = np.inf
    return np.sort(tasks[_least_per_machine(loss.min(axis=1), on, most)])


def slack_cells(
    runtimes: npt.NDArray[np.float64], assignment: IntArray, free: int, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """The slack MIP's (T, M) cells: on every machine, the ``free`` tasks that lose least
    (as a ratio, times a random factor so that each call frees others) on another machine,
    each on its own machine and on its `SLACK_MACHINES` others of least loss.

    Why: on the inconsistent instances a local optimum of the makespan keeps many tasks on
    slower machines than the LP's optimum does, and the moves that give that busy time
    back are long chains through many machines, which no neighbourhood of a few machines
    holds. A few tasks from every machine, on the few machines each could go to, hold
    those chains, and that MIP stays small."""
    tasks = np.arange(len(assignment))
    loss = _losses(runtimes, runtimes[tasks, assignment])
    loss[tasks, assignment] = np.inf
    with np.errstate(divide="ignore"):
        noisy = np.log(loss.min(axis=1)) + SLACK_NOISE * rng.standard_normal(len(tasks))
    freed = _least_per_machine(noisy, assignment, free)
    cells = np.zeros(runtimes.shape, dtype=bool)
    keep = min(SLACK_MACHINES, runtimes.shape[1])
    others = np.argpartition(loss[freed], keep - 1, axis=1)[:, :keep]
    cells[freed[:, None], others] = True
    cells[freed, assignment[freed]] = True
    return cells


def _losses(
    elsewhere: npt.NDArray[np.float64], own: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each task's runtime on each machine of ``elsewhere`` over its runtime ``own`` where it
    is (inf where both are zero)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        loss = elsewhere / own[:, None]
    return np.nan_to_num(loss, nan=np.inf)


def _least_per_machine(loss: npt.NDArray[np.float64], on: IntArray, most: int) -> IntArray:
    """Indices of at most ``most`` entries of least ``loss`` for each value of ``on``."""
    order = np.lexsort((loss, on))
    rank = np.arange(len(order)) - np.searchsorted(on[order], on[order], side="left")
    return order[rank < most]


def _seconds_left(tracker: SolveTracker, share: float = 1.0) -> float | None:
    wall = tracker.budget.wall_seconds
    return None if wall is None else max(share * (wall - tracker.elapsed), 1e-3)


class Matheuristic:
    """One run of the search on a tracker, from a schedule (see the module's docstring)."""

    def __init__(
        self,
        tracker: SolveTracker,
        start: Evaluation,
        rng: np.random.Generator,
        settings: MatheuristicSettings,
        team: Team | None = None,
    ):
        self.tracker, self.rng, self.settings, self.team = tracker, rng, settings, team
        self.problem = tracker.problem
        self.runtimes = fastest_runtimes(self.problem)
        self.current = start
        self.size = min(settings.size, self.problem.num_machines)
        self.candidates = settings.candidates
        self.slack_free = SLACK_FREE
        # A pair's exact split is the sub-MIP's answer only where the makespan and busy time
        # are all the objective and all the constraints the model states.
        self.splits_pairs = self.problem.energy_weight == 0 and not self.problem.demand.any()
        self.pair_optimal: Evaluation | None = None
        # Where pairs are split exactly, a sub-MIP of two machines would find nothing more.
        self.smallest = min(3 if self.splits_pairs else 2, self.problem.num_machines)

    def run(self) -> Evaluation:
        """Steps 0-4 until the budget ends, meeting the team (if any) every epoch; the best
        schedule the tracker has seen."""
        try:
            self._burst()
            self._slack()
            self._reduced_mip()
            self._search()
        finally:
            if self.team is not None:
                self.team.pool.leave(self.team.worker)
        assert self.tracker.best is not None
        return self.tracker.best

    def _burst(self, patience: int = 1) -> None:
        """Step 0 (and step 1's end): tabu rounds until ``patience`` in a row find nothing
        better or the burst's share is spent."""
        tracker, tasks = self.tracker, self.problem.num_tasks
        steps = self.settings.tabu_steps * tasks
        if tracker.budget.evaluations is not None:  # leave the MIPs their turn
            steps = min(steps, tracker.budget.evaluations // 2)
        idle = 0
        while steps > 0 and not tracker.exhausted and idle < patience:
            round_steps = min(BURST_ROUND * tasks, steps)
            found = tabu_search(tracker, self.current, self.rng, TABU, round_steps, "tabu")
            steps -= round_steps
            idle = 0 if found.key < self.current.key else idle + 1
            self.current = found

    def _search(self) -> None:
        """Steps 3 and 4 (with step 1 when the neighbourhoods stall), with an exchange every
        `EPOCH` x M neighbourhoods."""
        idle = 0
        for step in itertools.count(1):
            if self.tracker.exhausted:
                return
            if self.team is not None and step % (EPOCH * self.problem.num_machines) == 0:
                self._cooperate(self.team)
            if self._pairs() or self._neighbourhood():
                idle = 0
                continue
            idle += 1
            if idle == SLACK_IDLE and self._slack():
                idle = 0
                continue
            if idle < self.problem.num_machines:
                continue
            idle = 0
            if self.size < min(MAX_SIZE, self.problem.num_machines):
                self.size += 1
            elif self.candidates < self.problem.num_machines:
                self.candidates += 1
                self.size = min(self.settings.size, self.problem.num_machines)
                self._reduced_mip()
            else:  # the size reduction kept every machine: no restart can find more
                self.current = tabu_search(self.tracker, self.current, self.rng, TABU)
                return

    def _cooperate(self, team: Team) -> None:
        """Exchange with the team, then relink: the MIP over every cell of this worker's
        schedule and the elites' holds every schedule on every path between them (each task
        on one of their machines), and finds the best of them; then continue from the best
        of that and the best elite."""
        tracker = self.tracker
        exchange = team.pool.exchange(team.worker, tracker, self.current)
        if exchange is None:
            return
        if exchange.bound is not None:
            tracker.bound = max(exchange.bound, tracker.bound or exchange.bound)
        tasks = np.arange(self.problem.num_tasks)
        cells = np.zeros(self.runtimes.shape, dtype=bool)
        for elite in exchange.elites:
            cells[tasks, elite.assignment] = True
        leader = exchange.elites[0]
        if leader.key < self.current.key:
            self.current = leader
        if cells.sum() == self.problem.num_tasks:  # every schedule the same
            return
        self._large_mip(cells, "relink")

    def _stop(self) -> bool:
        return self.tracker.exhausted

    def _reduced_mip(self) -> None:
        """Step 2: the size-reduced MIP from the current schedule."""
        with self.tracker.stage("reduced-mip"):
            promising = promising_cells(self.tracker, self.current.assignment, self.candidates)
        self._large_mip(promising, "reduced-mip")

    def _slack(self) -> bool:
        """Slack MIPs while they lower the busy time, within `SLACK_SHARE` of the time left,
        then a tabu burst spreads the room they made over the machines that finish last.
        Whether the schedule improved."""
        before = self.current.key
        left = _seconds_left(self.tracker, SLACK_SHARE)
        deadline = None if left is None else self.tracker.elapsed + left
        while not self.tracker.exhausted and self._slack_mip(deadline):
            pass
        self._burst(SLACK_PATIENCE)
        return self.current.key < before

    def _slack_mip(self, deadline: float | None) -> bool:
        """One slack MIP, until ``deadline`` (seconds into the solve) if any: the
        `slack_cells` tasks, the others held where they are, with the makespan's floor
        `SLACK_TARGET` below the current one, so that once there the MIP spends the rest of
        its time lowering the busy time (a tie weight as strong as one neighbourhood
        machine's). It frees one task a machine more next time if it was solved, one fewer
        if not. Whether it lowered the busy time."""
        if deadline is not None and self.tracker.elapsed >= deadline:
            return False
        busy = self._busy().sum()
        answer = self._large_mip(
            slack_cells(self.runtimes, self.current.assignment, self.slack_free, self.rng),
            "slack-mip",
            seconds=None if deadline is None else deadline - self.tracker.elapsed,
            floor=(1 - SLACK_TARGET) * self.current.makespan,
            tie_weight=self._tie_weight(size=1),
        )
        if answer is not None:
            self.slack_free = max(1, self.slack_free + (-1 if answer.out_of_work else 1))
        return bool(self._busy().sum() < busy)

    def _large_mip(
        self,
        cells: npt.NDArray[np.bool_],
        stage: str,
        seconds: float | None = None,
        floor: float = 0.0,
        tie_weight: float | None = None,
    ) -> MipAnswer | None:
        """The MIP over the (T, M) mask ``cells`` (tasks outside it stay where they are),
        from the current schedule, on the reduced MIP's limits (or ``seconds``, under a wall
        budget); its schedule becomes current if no worse."""
        tracker = self.tracker
        if tracker.exhausted:
            return None
        with tracker.stage(stage):
            model = AssignmentModel(
                self.problem,
                self.runtimes,
                Cells.where(cells),
                integer=True,
                tie_weight=self._tie_weight() if tie_weight is None else tie_weight,
                held=self.current.assignment,
                floor=floor,
            )
            answer = self._solve(
                model,
                self.settings.reduced_nodes,
                _seconds_left(tracker, self.settings.reduced_share) if seconds is None else seconds,
            )
        if answer.values is not None and not tracker.exhausted:
            found = tracker.evaluate(
                model.schedule(answer.values, self.current.assignment), stage=stage
            )
            if found.key <= self.current.key:
                self.current = found
        return answer

    def _solve(
        self,
        model: AssignmentModel,
        nodes: int,
        seconds: float | None,
        improvements: int | None = None,
    ) -> MipAnswer:
        """``model`` from the current schedule, within ``nodes`` and ``seconds`` and, under an
        evaluation budget, within what is left of it: nodes and simplex iterations are each
        at least one unit of the MIP's work, which the budget is then charged (it weighed
        many schedules), but never past it: the schedule found still gets its evaluation."""
        tracker = self.tracker
        left = None if tracker.budget.evaluations is None else tracker.evaluations_left
        answer = solve_mip(
            model,
            self.current.assignment,
            nodes=nodes if left is None else max(1, min(nodes, left)),
            iterations=None if left is None else max(1, left),
            seconds=seconds,
            should_stop=self._stop,
            improvements=improvements,
            sub_mip_heuristics=improvements is None,
        )
        self._charge(answer.work)
        return answer

    def _charge(self, work: int) -> None:
        """Charge ``work`` to the budget, but under an evaluation budget never past it: the
        schedule found still gets its evaluation."""
        self.tracker.spend(max(0, min(work, self.tracker.evaluations_left - 1)))

    def _tie_weight(self, size: int | None = None) -> float:
        problem = self.problem
        return TIE_WEIGHT * (problem.makespan_weight + problem.energy_weight) / (size or self.size)

    def _pairs(self) -> bool:
        """Step 3's first try: the exact best split (`qsched.search.two_machines`) of the last
        machine's tasks with each other machine's, those with the most room first, until one
        is kept by the rule of `_neighbourhood`; whether one was. A schedule no pair improves
        is remembered, so the sweep is not repeated until the schedule changes."""
        if not self.splits_pairs or self.pair_optimal is self.current:
            return False
        busy, last, others, weight = self._room()
        for other in others[np.argsort(-weight, kind="stable")]:
            if self.tracker.exhausted:
                return False
            machines = np.array([last, other], dtype=np.int64)
            tasks = self._free(machines)
            held = busy[machines] - np.bincount(  # the busy time of the tasks that stay
                self.current.assignment[tasks] == other,
                weights=self.runtimes[tasks, self.current.assignment[tasks]],
                minlength=2,
            )
            split = best_split(
                self.runtimes[tasks, last],
                self.runtimes[tasks, other],
                self.current.assignment[tasks] == last,
                float(busy[machines].max()),
                (float(held[0]), float(held[1])),
            )
            self._charge(split.states)
            if split.exact and self._keep(np.where(split.on_first, last, other), tasks, machines):
                return True
        self.pair_optimal = self.current
        return False

    def _keep(self, placed: IntArray, tasks: IntArray, machines: IntArray) -> bool:
        """Move ``tasks`` to ``placed`` if that lowers the last finish or, at an equal one, the
        busy time of ``machines`` and the evaluator finds the schedule no worse."""
        assignment = self.current.assignment.copy()
        assignment[tasks] = placed
        if not self._local(assignment, machines) < self._local(self.current.assignment, machines):
            self.tracker.spend(1)
            return False
        found = self.tracker.evaluate(assignment, stage="neighbourhood")
        if found.key > self.current.key:
            return False
        self.current = found
        return True

    def _neighbourhood(self) -> bool:
        """Step 3 once: whether the sub-MIP's schedule was kept."""
        machines = self._machines()
        tasks = self._free(machines)
        if len(tasks) == 0:
            return False
        model = AssignmentModel(
            self.problem,
            self.runtimes,
            Cells.block(tasks, np.sort(machines)),
            integer=True,
            tie_weight=self._tie_weight(),
            held=self.current.assignment,
        )
        left = _seconds_left(self.tracker)
        answer = self._solve(
            model,
            self.settings.nodes,
            None if left is None else min(self.settings.seconds, left),
            NEIGHBOURHOOD_IMPROVEMENTS,
        )
        if answer.out_of_work:
            self.size = max(self.smallest, self.size - 1)
        if answer.values is None or self.tracker.exhausted:
            return False
        placed = model.schedule(answer.values, self.current.assignment)[tasks]
        return self._keep(placed, tasks, machines)

    def _free(self, machines: IntArray) -> IntArray:
        """The tasks on ``machines`` a neighbourhood re-optimises (`freed_tasks`)."""
        return freed_tasks(self.runtimes, self.current.assignment, machines, FREE_PER_MACHINE)

    def _local(self, assignment: IntArray, machines: IntArray) -> tuple[float, float]:
        """The neighbourhood's last finish and busy time under ``assignment``."""
        busy = self._busy(assignment)[machines]
        return float(busy.max(initial=0.0)), float(busy.sum())

    def _busy(self, assignment: IntArray | None = None) -> npt.NDArray[np.float64]:
        """Every machine's busy time under ``assignment`` (the current schedule's if None)."""
        if assignment is None:
            assignment = self.current.assignment
        return np.asarray(
            np.bincount(
                assignment,
                weights=self.runtimes[np.arange(self.problem.num_tasks), assignment],
                minlength=self.problem.num_machines,
            ),
            dtype=np.float64,
        )

    def _room(self) -> tuple[npt.NDArray[np.float64], int, IntArray, npt.NDArray[np.float64]]:
        """Every machine's busy time, the machine that finishes last, the others, and their
        weights: one more than how many of its tasks fit in their room before it finishes."""
        assignment = self.current.assignment
        busy = self._busy()
        last = int(np.argmax(busy))
        others = np.delete(np.arange(self.problem.num_machines, dtype=np.int64), last)
        own = np.flatnonzero(assignment == last)
        room = busy[last] - busy[others]
        weight: npt.NDArray[np.float64] = 1.0 + (
            self.runtimes[np.ix_(own, others)] < room[None, :]
        ).sum(axis=0)
        return busy, last, others, weight

    def _machines(self) -> IntArray:
        """The machine that finishes last and ``size - 1`` others, drawn by `_room`'s
        weights."""
        _, last, others, weight = self._room()
        drawn = self.rng.choice(
            others, size=min(self.size - 1, len(others)), replace=False, p=weight / weight.sum()
        )
        return np.append(last, drawn).astype(np.int64)


def matheuristic(
    tracker: SolveTracker,
    start: Evaluation,
    rng: np.random.Generator,
    settings: MatheuristicSettings,
    team: Team | None = None,
) -> Evaluation:
    """Run `Matheuristic` from ``start`` until the tracker's budget ends."""
    return Matheuristic(tracker, start, rng, settings, team).run()
