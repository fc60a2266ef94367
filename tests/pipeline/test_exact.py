"""The exact solver: optimal against brute force, never worse than the contiguous optimum."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tflite_serenity.errors import InfeasibleError
from tflite_serenity.edgetpu import exact as exact_module
from tflite_serenity.edgetpu.contiguous import contiguous_split, param_count_split
from tflite_serenity.edgetpu.exact import exact_split
from tflite_serenity.edgetpu.problem import Split, evaluate
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


@pytest.mark.parametrize("seconds", [0, float("nan")])
def test_exact_refuses_a_time_limit_not_above_zero(seconds):
    with pytest.raises(InfeasibleError, match="time limit"):
        exact_split(random_problem(5), 2, time_limit=seconds)


def test_exact_out_of_time_returns_a_valid_split_and_a_bound():
    problem = random_problem(7, max_ops=12)
    split = exact_split(problem, 3, time_limit=1e-3)
    evaluate(problem, split.stages, 3)  # valid
    assert split.lower_bound_ps <= split.bottleneck_ps
    assert split.status in ("optimal", "feasible")


def test_exact_starts_from_a_given_incumbent_and_never_does_worse():
    problem = random_problem(11, max_ops=12, min_ops=8)
    incumbent = param_count_split(problem, 3)
    split = exact_split(problem, 3, incumbent=incumbent)
    assert key(split.segments) <= key(incumbent.segments)
    assert (split.bottleneck_ps, split.total_ps) == brute_force(problem, 3)


def test_exact_raises_when_its_encoding_disagrees_with_the_cost_model(monkeypatch):
    problem = random_problem(12, max_ops=10, min_ops=6)
    real = exact_module.evaluate

    def cheaper(problem, stages, k):  # an evaluator that under-reports: no split can meet it
        return tuple(replace(s, time_ps=1) for s in real(problem, stages, k))

    monkeypatch.setattr(exact_module, "make_split", lambda p, m, st, k, *a: Split(m, tuple(st), cheaper(p, st, k), *a))
    with pytest.raises(RuntimeError, match="encoding and the cost model disagree"):
        exact_split(problem, 2, incumbent=contiguous_split(problem, 2))
