"""The exact solver: optimal against brute force, never worse than the contiguous optimum."""

from __future__ import annotations

import pytest

from tflite_serenity.errors import InfeasibleError
from tflite_serenity.pipeline.contiguous import contiguous_split
from tflite_serenity.pipeline.exact import exact_split
from tflite_serenity.pipeline.problem import evaluate
from tests.pipeline.problems import brute_force, key, random_problem


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", range(12))
def test_exact_matches_brute_force_on_random_graphs(seed, k):
    problem = random_problem(1000 * k + seed, max_ops=12, min_ops=k)
    split = exact_split(problem, k, time_limit=20)
    assert split.status == "optimal"
    assert (split.bottleneck_ps, split.total_ps) == brute_force(problem, k)


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", range(4))
def test_exact_matches_brute_force_on_twelve_operators(seed, k):
    problem = random_problem(7000 * k + seed, max_ops=12, min_ops=12)
    split = exact_split(problem, k, time_limit=20)
    assert split.status == "optimal"
    assert (split.bottleneck_ps, split.total_ps) == brute_force(problem, k)


@pytest.mark.parametrize("seed", range(6))
def test_exact_reports_the_costs_of_its_stages(seed):
    problem = random_problem(seed, max_ops=12)
    k = min(3, problem.num_operators)
    split = exact_split(problem, k, time_limit=20)
    assert split.segments == evaluate(problem, split.stages, k)
    assert split.lower_bound_ps == split.bottleneck_ps and split.gap == 0


@pytest.mark.parametrize("seed", range(6))
def test_exact_is_never_worse_than_contiguous(seed):
    problem = random_problem(50 + seed, max_ops=12)
    k = min(3, problem.num_operators)
    assert key(exact_split(problem, k, time_limit=20).segments) <= key(contiguous_split(problem, k).segments)


def test_exact_with_one_stage_puts_everything_in_it():
    problem = random_problem(3)
    split = exact_split(problem, 1)
    assert split.stages == (0,) * problem.num_operators and split.status == "optimal"


def test_exact_refuses_more_stages_than_operators():
    problem = random_problem(4, max_ops=3)
    with pytest.raises(InfeasibleError, match="non-empty segments"):
        exact_split(problem, problem.num_operators + 1)


def test_exact_refuses_a_nonpositive_time_limit():
    with pytest.raises(InfeasibleError, match="time limit"):
        exact_split(random_problem(5), 2, time_limit=0)


def test_exact_out_of_time_returns_a_valid_split_and_a_bound():
    problem = random_problem(7, max_ops=12)
    split = exact_split(problem, 3, time_limit=1e-3)
    evaluate(problem, split.stages, 3)  # valid
    assert split.lower_bound_ps <= split.bottleneck_ps
    assert split.status in ("optimal", "feasible")
