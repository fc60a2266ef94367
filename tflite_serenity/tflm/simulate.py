"""The arena head TFLite Micro gives a model as it is stored (simulated).

With the model's own offline plan where it holds one (tensors pinned where
the plan says, scratch buffers placed around them), with TFLite Micro's
greedy planner otherwise. The optimizer compares its output with its input
by this figure, so that a model is never handed back with a larger head.
"""

from __future__ import annotations

from tflite_serenity.tflm.buffers import model_buffers
from tflite_serenity.tflm.offline import read_offline_plan
from tflite_serenity.tflm.planner import ONLINE, greedy_tflm
from tflite_serenity.errors import SerenityError
from tflite_serenity.graph import Graph


def stored_head(model, graphs: list[Graph], kernels: str = "reference") -> int | None:
    """TFLite Micro's head for ``model`` (a ``ModelT`` whose subgraphs are
    ``graphs``) in its stored orders, with the scratch buffers of the kernel
    library ``kernels`` (:data:`tflite_serenity.tflm.scratch.KERNEL_LIBRARIES`),
    or None where it cannot be simulated (a type or subgraph TFLite Micro
    cannot plan, an offline plan that does not fit the model)."""
    try:
        buffers = model_buffers(graphs, kernels=(kernels,))
        stored = read_offline_plan(model)
        if stored is None:
            return greedy_tflm(buffers.blocks).arena_bytes
        if len(stored.offsets) != buffers.total_tensors:
            return None  # TFLite Micro refuses to allocate such a model
        offsets = [ONLINE if b.is_scratch else int(stored.offsets[buffers.plan_index(b)]) for b in buffers.buffers]
        return greedy_tflm(buffers.blocks, offline_offsets=offsets).arena_bytes
    except SerenityError:
        return None
