"""Every float operator kind the rewriter treats as exact, tried on a real site:
the consumer of a committed model's concat is swapped for the kind, then the
site is rewritten and both models run in both runtimes."""

from __future__ import annotations

import pytest

from tflite_serenity.graph import build_graph
from tflite_serenity.model import write_model
from tflite_serenity.rewrite.apply import push_concat
from tflite_serenity.rewrite.sites import BINARY, REDUCTIONS, UNARY, find_sites
from tflite_serenity.verify import compare_models
from tests.rewrite.util import site_feeding, tree_and_graph, with_kind

# (model, the consumer kind in it, kinds swapped in): options types match or are not read.
CASES = [
    ("rewrite_conv_float.tflite", "RELU", sorted(UNARY["FLOAT32"] - {"LEAKY_RELU"})),
    ("rewrite_elementwise_float.tflite", "MUL", sorted(BINARY)),
    ("rewrite_mean_float.tflite", "MEAN", sorted(REDUCTIONS)),
]


@pytest.mark.parametrize("runtime", ["litert", "tflm"])
@pytest.mark.parametrize("name, consumer, kind", [(n, c, k) for n, c, kinds in CASES for k in kinds])
def test_float_operator_kind_is_split_bit_identically(name, consumer, kind, runtime):
    tree, graph = tree_and_graph(name)
    op = site_feeding(tree, graph, consumer).splits[0].op
    edited = with_kind(tree, op, kind)
    edited_graph = build_graph(edited, 0)
    (site,) = [s for s in find_sites(edited, edited_graph) if any(sp.op == op for sp in s.splits)]
    original = write_model(edited)
    result = compare_models(original, write_model(push_concat(edited, edited_graph, site).model),
                            runtime=runtime, trials=2)
    if result.original_error is not None:
        pytest.skip(f"{kind} does not run in {runtime}: {result.original_error[:80]}")
    assert result.bit_identical, result.describe()
