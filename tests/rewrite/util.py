"""Helpers of the rewrite tests: committed models, their sites, forced rewrites."""

from __future__ import annotations

from tflite_serenity.graph import build_graph
from tflite_serenity.model import read_model, write_model
from tflite_serenity.rewrite.apply import push_concat
from tflite_serenity.options import Options
from tflite_serenity.rewrite.sites import Site, find_sites
from tests.models import load

APPROXIMATE = Options(rewrite_approximate=True, rewrite_approximate_int8=True)


def tree_and_graph(name: str):
    """The ModelT of tests/data/NAME and the graph of its subgraph 0."""
    tree = read_model(load(name))
    return tree, build_graph(tree, 0)


def site_feeding(tree, graph, kind: str, options: Options = Options()) -> Site:
    """The first site with a consumer of ``kind`` that can be split."""
    for site in find_sites(tree, graph, options):
        if any(split.kind == kind for split in site.splits):
            return site
    raise LookupError(f"no site feeding {kind}")


def pushed_bytes(name: str, kind: str, options: Options = Options()) -> bytes:
    """tests/data/NAME with its first site feeding ``kind`` rewritten, whether or not it pays."""
    tree, graph = tree_and_graph(name)
    return write_model(push_concat(tree, graph, site_feeding(tree, graph, kind, options)).model)


def with_kind(tree, op_index: int, kind: str):
    """A copy of ``tree`` whose operator ``op_index`` (subgraph 0) runs builtin ``kind`` instead,
    keeping its inputs, outputs and options (to try other operators on the same site)."""
    import copy

    from tflite_serenity.model.schema import BuiltinOperator, fb

    code = fb.OperatorCodeT()
    code.builtinCode = getattr(BuiltinOperator, kind)
    code.deprecatedBuiltinCode = min(code.builtinCode, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    edited = copy.copy(tree)
    edited.operatorCodes = list(tree.operatorCodes) + [code]
    edited.subgraphs = [copy.copy(tree.subgraphs[0])] + list(tree.subgraphs[1:])
    ops = list(tree.subgraphs[0].operators)
    ops[op_index] = copy.copy(ops[op_index])
    ops[op_index].opcodeIndex = len(edited.operatorCodes) - 1
    edited.subgraphs[0].operators = ops
    return edited
