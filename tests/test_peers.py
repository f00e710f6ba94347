"""QAOA's classical peers: the samplers on the engine's Qubo (and the seam's random and exhaustive
samplers), and `qubo-sa` / `qubo-tabu`, which run them through qaoa's own decode, repair and
polish."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from builders import exhaustive_optimum, generated, random_qubo
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.model import registry
from qsched.model.evaluate import evaluate
from qsched.model.problem import ProblemError
from qsched.model.solver import Budget
from qsched.solvers.decode import encode
from qsched.solvers.engine import Qubo, basis_bits, basis_states, cost_diagonal
from qsched.solvers.peer_solvers import CHUNK_VARIABLES, MAX_CELLS
from qsched.solvers.peers import AnnealingSampler, to_bqm
from qsched.solvers.samplers import PEERS, SamplerSettings, make_sampler
from qsched.solvers.sampling import ExhaustiveSampler, QuboModel, RandomSampler

#: Few reads and steps: what is asserted holds for any number of them.
SMALL = {"reads": 16, "polish_steps": 20}


def run(problem, solver, seed=0, budget=Budget(), **options):
    return registry.solve(problem, solver, budget, seed, None, {**SMALL, **options})


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**16), bits=st.integers(0, 2**12 - 1))
def test_the_dimod_model_has_the_qubos_energies(n, seed, bits):
    qubo = random_qubo(n, seed)
    z = basis_bits(bits % (1 << n), n)
    energy = to_bqm(qubo).energy({i: int(z[i]) for i in range(n)})
    assert energy == pytest.approx(qubo.value(z), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("method, reads", [("sa", 64), ("tabu", 8)])
def test_the_peers_read_states_back_in_the_engines_bit_order(method, reads):
    """Independent variables with fields of both signs: reads end, nearly all, in the one ground
    state (each variable settles on its own field's side; annealing leaves a weak field's
    variable a small chance at its last temperature), and that state comes back as the integer
    the engine's diagonal ranks lowest (qubit i = bit i)."""
    fields = np.array([-2.0, 3.0, -1.0, -4.0, 1.5, 2.0, -3.0, 1.0, -0.5, 2.5])
    qubo = Qubo(fields, np.zeros((fields.size, fields.size)))
    counts = make_sampler(method).sample(QuboModel(qubo), reads, 7).counts
    assert sum(counts.values()) == reads
    assert max(counts, key=counts.__getitem__) == int(np.argmin(cost_diagonal(qubo)))


def test_samples_of_more_than_64_variables_keep_every_bit():
    """Basis states are Python integers: 70 variables pack and unpack without loss."""
    qubo = Qubo(np.zeros(70), np.zeros((70, 70)))
    counts = RandomSampler().sample(QuboModel(qubo), 40, 5).counts
    rows = np.random.default_rng(5).integers(0, 2, size=(40, 70))
    assert counts == basis_states(rows)
    assert max(counts).bit_length() > 63
    for state in counts:
        assert basis_states(basis_bits(state, 70)[None, :]) == {state: 1}


@pytest.mark.parametrize("method", PEERS)
def test_samples_are_the_same_for_a_seed(method):
    model, sampler = QuboModel(random_qubo(10, 3)), make_sampler(method)
    assert sampler.sample(model, 20, 11) == sampler.sample(model, 20, 11)
    assert sampler.sample(model, 20, 2**40 + 11).reads == 20  # any seed is taken


@pytest.mark.parametrize("method", PEERS)
def test_a_generator_seeds_as_the_integer_drawn_from_it(method):
    """A caller's generator carries on: the C++ samplers take an integer drawn from it, numpy's
    draw from it directly."""
    model, sampler = QuboModel(random_qubo(10, 3)), make_sampler(method)
    drawn = sampler.sample(model, 20, np.random.default_rng(4))
    if method == "random":
        assert drawn == sampler.sample(model, 20, 4)
    else:
        assert drawn == sampler.sample(model, 20, int(np.random.default_rng(4).integers(1 << 63)))


def one_hot_model(sizes: list[int], free: int = 1) -> QuboModel:
    """A QUBO of ``free`` qubits in no group, then groups of ``sizes`` qubits."""
    groups, start = [], free
    for size in sizes:
        groups.append(list(range(start, start + size)))
        start += size
    initial = np.zeros(start, dtype=np.int64)
    initial[[group[0] for group in groups]] = 1
    return QuboModel(random_qubo(start, 1), groups, initial)


def rows_of(model: QuboModel, counts: dict[int, int]) -> np.ndarray:
    return np.array([basis_bits(z, model.num_qubits) for z in counts])


def test_random_and_exhaustive_samples_stay_inside_the_one_hot_groups():
    model = one_hot_model([3, 2, 4])
    every = ExhaustiveSampler().sample(model, 1, 0).counts
    assert len(every) == 3 * 2 * 4 and set(every.values()) == {1}
    drawn = RandomSampler().sample(model, 50, 0)
    assert drawn.reads == 50 and set(drawn.counts) <= set(every)
    for bits in rows_of(model, every):
        assert bits[0] == 0  # the qubit in no group
        assert [int(bits[group].sum()) for group in model.groups or []] == [1, 1, 1]


def test_exhaustive_sampling_of_a_bare_qubo_lists_every_state_once():
    counts = ExhaustiveSampler().sample(QuboModel(random_qubo(5, 2)), 3, 0).counts
    assert counts == dict.fromkeys(range(32), 1)


def test_a_name_the_registry_does_not_know_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="annealing.*qaoa, sa, tabu, exhaustive, random"):
        make_sampler("annealing")
    with pytest.raises(ValueError, match="angle source"):
        make_sampler("qaoa")
    annealing = make_sampler("sa", SamplerSettings(sweeps=7))
    assert isinstance(annealing, AnnealingSampler) and annealing.sweeps == 7


@pytest.mark.parametrize("solver", ["qubo-sa", "qubo-tabu"])
def test_peer_solvers_answer_between_their_start_and_the_optimum(solver):
    """Feasible, scored by the one evaluator, no worse than the repaired Min-min start the
    samples are decoded around, nothing better than exhaustive search."""
    problem = generated(4, 2, 5)
    result = run(problem, solver)
    start = encode(problem)[2]
    evaluation = result.evaluation
    again = evaluate(problem, evaluation.assignment, evaluation.levels)
    assert again.key == evaluation.key and evaluation.feasible
    optimum = exhaustive_optimum(problem).objective
    assert optimum * (1 - 1e-9) <= evaluation.objective <= start.objective
    facts = result.facts
    assert facts["reads"] == SMALL["reads"] and facts["variables"] >= 8
    assert 1 <= facts["distinct_assignments"] <= facts["distinct_samples"] <= facts["reads"]
    assert 0 <= facts["feasible_sample_share"] <= 1 and "best_sample_objective" in facts
    assert set(result.stage_seconds) == {"sample", "decode", "polish"}


@pytest.mark.parametrize("solver", ["qubo-sa", "qubo-tabu"])
def test_peer_solvers_are_deterministic_for_a_seed(solver):
    problem = generated(5, 2, 7)
    first, second = run(problem, solver, seed=4), run(problem, solver, seed=4)
    assert first.evaluation.assignment.tolist() == second.evaluation.assignment.tolist()
    assert first.evaluation.levels.tolist() == second.evaluation.levels.tolist()
    assert first.evaluations == second.evaluations
    assert first.facts == second.facts


def test_peer_solvers_refuse_problems_whose_qubo_is_too_large_to_build():
    problem = generated(MAX_CELLS // 2 + 1, 2, 1)
    for solver in ("qubo-sa", "qubo-tabu"):
        with pytest.raises(ProblemError) as error:
            registry.get(solver).check(problem, {})
        assert [v.field for v in error.value.violations] == ["problem.tasks"]


def test_a_stopped_peer_samples_one_chunk_and_answers_with_a_schedule():
    problem = generated(4, 2, 5)
    stop = threading.Event()
    stop.set()
    reads = 10 * CHUNK_VARIABLES
    result = run(problem, "qubo-sa", budget=Budget(stop=stop), reads=reads, sweeps=10)
    assert 1 <= result.facts["reads"] < reads
    assert result.evaluation.assignment.shape == (problem.num_tasks,)


def test_peers_and_qaoa_decode_the_same_counts_the_same_way():
    """One pipeline: the QAOA stage swapped for the sampler is all that differs, so qaoa without
    VQE and a peer share every fact about the decoding that does not depend on the samples."""
    problem = generated(4, 2, 5)
    qaoa = registry.solve(problem, "qaoa", Budget(), 0, None, {"vqe": False, "shots": 16})
    peer = run(problem, "qubo-sa")
    assert qaoa.facts["start_objective"] == peer.facts["start_objective"]
    assert qaoa.facts["penalty"] == peer.facts["penalty"]
    assert qaoa.facts["qubits"] == peer.facts["variables"]
    assert np.isfinite(peer.facts["best_sample_objective"])
