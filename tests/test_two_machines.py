"""The exact split of two machines' tasks: the best one by brute force on small inputs, the
fallback beyond what it takes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.search.two_machines import MAX_TASKS, best_split


def finish_and_busy(
    first: np.ndarray, second: np.ndarray, on_first: np.ndarray
) -> tuple[float, float]:
    a, b = float(first[on_first].sum()), float(second[~on_first].sum())
    return max(a, b), a + b


runtimes = st.lists(st.floats(0.5, 100.0, allow_nan=False), min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), first=runtimes)
def test_the_split_is_the_best_by_finish_then_busy_time(data, first):
    n = len(first)
    second = data.draw(st.lists(st.floats(0.5, 100.0), min_size=n, max_size=n))
    start = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    p, q = np.array(first), np.array(second)
    split = best_split(p, q, start, finish_and_busy(p, q, start)[0])
    assert split.exact and split.on_first.shape == (n,)
    best = min(
        finish_and_busy(p, q, np.array(choice, dtype=bool))
        for choice in itertools.product([False, True], repeat=n)
    )
    found = finish_and_busy(p, q, split.on_first)
    assert found == pytest.approx(best, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), first=runtimes, held=st.tuples(st.floats(0.0, 200.0), st.floats(0.0, 200.0)))
def test_busy_time_held_on_the_machines_counts_in_the_split(data, first, held):
    n = len(first)
    second = data.draw(st.lists(st.floats(0.5, 100.0), min_size=n, max_size=n))
    p, q = np.array(first), np.array(second)
    start = np.ones(n, dtype=bool)

    def with_held(choice: np.ndarray) -> tuple[float, float]:
        a, b = held[0] + float(p[choice].sum()), held[1] + float(q[~choice].sum())
        return max(a, b), a + b

    split = best_split(p, q, start, with_held(start)[0], held)
    assert split.exact
    best = min(
        with_held(np.array(choice, dtype=bool))
        for choice in itertools.product([False, True], repeat=n)
    )
    assert with_held(split.on_first) == pytest.approx(best, rel=1e-9)


def test_nothing_within_a_limit_below_the_optimum_is_not_exact():
    p, q = np.array([3.0, 3.0]), np.array([3.0, 3.0])
    start = np.array([True, True])
    split = best_split(p, q, start, 2.9)
    assert not split.exact and (split.on_first == start).all()


def test_more_tasks_than_it_takes_fall_back_to_the_given_split():
    n = MAX_TASKS + 1
    start = np.zeros(n, dtype=bool)
    split = best_split(np.ones(n), np.ones(n), start, float(n))
    assert not split.exact and split.states == 0 and (split.on_first == start).all()


def test_a_hundred_and_twenty_eight_tasks_are_split_exactly():
    rng = np.random.default_rng(0)
    p = rng.integers(1, 20, MAX_TASKS).astype(float)
    q = p.copy()
    start = np.ones(MAX_TASKS, dtype=bool)
    split = best_split(p, q, start, p.sum())
    assert split.exact
    finish, _ = finish_and_busy(p, q, split.on_first)
    assert finish == np.ceil(p.sum() / 2)  # identical machines, integer times: a partition
