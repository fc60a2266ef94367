"""The shipped policies and what they answer: an operator order (for memory, or for a pipeline).

Two policies ship in ``weights/``, each an ``.npz`` of float32 arrays with a
JSON config beside it (network shape, training setup and results):
``pipeline`` (trained for the bottleneck of a ``k``-segment pipeline) and
``memory`` (trained for the peak of live activation bytes). Inference is
NumPy only (:mod:`.infer`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .. import memory
from ..errors import InfeasibleError, SerenityError
from ..graph import Graph, check_topological
from .infer import Weights, greedy_order, load_weights
from .problem import Instance, check_instance_order, memory_instance, only_order, pipeline_instance

#: Where the shipped policies live.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Objectives with a shipped policy.
OBJECTIVES = ("pipeline", "memory")


@dataclass(frozen=True)
class Policy:
    """A trained policy: its weights and the config it was saved with."""

    objective: str
    weights: Weights
    config: dict

    def order(self, inst: Instance) -> tuple[int, ...]:
        """The policy's greedy order of the instance's operators (checked to be topological)."""
        if inst.objective != self.objective:
            raise SerenityError(f"the {self.objective} policy cannot order a {inst.objective} instance")
        order = greedy_order(self.weights, inst)
        check_instance_order(inst, order)
        return order


@functools.lru_cache(maxsize=None)
def load_policy(objective: str, directory: str | None = None) -> Policy:
    """Load a policy (``"pipeline"`` or ``"memory"``) from ``directory`` (default: the shipped ones).

    Raises
    ------
    SerenityError
        Unknown objective, missing files, or a config that does not match the weights.
    """
    if objective not in OBJECTIVES:
        raise SerenityError(f"no learned policy for {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    folder = Path(directory) if directory is not None else WEIGHTS_DIR
    npz, cfg = folder / f"{objective}.npz", folder / f"{objective}.json"
    try:
        config = json.loads(cfg.read_text())
        weights = load_weights(npz, config)
    except (OSError, ValueError, KeyError) as err:
        raise SerenityError(f"cannot load the learned {objective} policy from {folder}: {err}") from err
    if config.get("objective") != objective:
        raise SerenityError(f"{cfg}: holds a policy for {config.get('objective')!r}, not {objective!r}")
    return Policy(objective, weights, config)


def learned_order(graph: Graph) -> tuple[int, ...]:
    """The memory policy's operator order for ``graph``: a good memory schedule, fast.

    Not proven optimal; use it as the first upper bound of an exact search.
    The order is valid (every operator after its predecessors).

    Examples
    --------
    >>> import numpy as np
    >>> from tflite_serenity.learned.synthetic import random_dag
    >>> from tflite_serenity import memory
    >>> g = random_dag(np.random.default_rng(1), 20, 30)
    >>> order = learned_order(g)
    >>> memory.check_order(g, order)  # raises if invalid
    """
    if graph.num_operators == 0:
        return ()
    # checked once, here (the decoder only ever places ready operators)
    order = only_order(graph.preds) or greedy_order(load_policy("memory").weights, memory_instance(graph))
    memory.check_order(graph, order)
    return order


def learned_pipeline_order(problem, k: int) -> tuple[int, ...]:
    """The pipeline policy's operator order for ``k`` segments of a
    :class:`~tflite_serenity.edgetpu.problem.PipelineProblem`.

    A graph with one topological order gets it without the policy (which
    could only place the one ready operator at every step)."""
    order = _pipeline_order(problem, k)
    check_topological(problem.preds, order)
    return order


def _pipeline_order(problem, k: int) -> tuple[int, ...]:
    """:func:`learned_pipeline_order` without the final check of the order (for callers that
    check it themselves; the decoder only ever places ready operators)."""
    policy = load_policy("pipeline")
    if not 1 <= k <= problem.num_operators:
        raise InfeasibleError(f"cannot split {problem.num_operators} operators into {k} non-empty segments")
    return only_order(problem.preds) or greedy_order(policy.weights, pipeline_instance(problem, k))
