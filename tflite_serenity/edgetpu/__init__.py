"""Pipeline segmentation for several Edge TPUs (the RESPECT problem), solved exactly.

A model is split into ``k`` segments, one per Edge TPU, that run as a
pipeline; its throughput is set by the slowest segment. The cost model
(:mod:`.device`, :mod:`.costs`, :mod:`.problem`) charges each segment its
compute, the parameters that do not fit the on-chip cache, and the
activations crossing the host link. Three solvers share it: the Edge TPU
compiler's equal-parameter rule (:func:`param_count_split`), the best
contiguous cut of the stored order (:func:`contiguous_split`), the best cut
of the learned policy's order (:func:`learned_split`) and the exact
optimum over every split whose edges go forward (:func:`exact_split`).
:func:`segment_models` writes a split as chained ``.tflite`` files.
"""

from .contiguous import contiguous_split, learned_split, param_count_split
from .costs import build_problem, operator_macs
from .device import LINKS, EdgeTpu, edge_tpu
from .exact import exact_split
from .plan import SOLVERS, PipelinePlan, plan_pipeline
from .problem import Flow, PipelineProblem, SegmentCost, Split, evaluate
from .segments import check_chain, run_chain, segment_models, write_segments

__all__ = [
    "LINKS", "SOLVERS", "EdgeTpu", "Flow", "PipelinePlan", "PipelineProblem", "SegmentCost", "Split",
    "build_problem", "check_chain", "contiguous_split", "edge_tpu", "evaluate", "exact_split", "learned_split",
    "operator_macs", "param_count_split", "plan_pipeline", "run_chain", "segment_models", "write_segments",
]
