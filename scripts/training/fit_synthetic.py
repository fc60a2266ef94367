"""Fit the distributions of the learned scheduler's synthetic graphs to real converter output.

Reads every ``.tflite`` in ``tests/data/`` and the zoo (``scripts/models/zoo.py``),
keeps the float variant of each network (the int8 variant has the same
shapes; synthetic graphs draw their element type separately) and graphs of at
least 8 operators, and prints the figures recorded in
``tflite_serenity/learned/synthetic.py`` (``FITTED``):

* ``in_degree``: share of operators with 1, 2, 3 and 4 or more predecessors
  (among operators with at least one);
* ``p_weighted``: share of single-input operators that are convolution-like
  (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV, BATCH_MATMUL);
* ``out_log2``: log2 of a convolution's output elements as ``a + b * depth``
  (depth = stored position / operators) plus Gaussian noise of ``sd``;
* ``macs_per_out_log2``: log2 of a convolution's MACs per output element
  (mean, sd);
* ``params_log2``: log2 of its parameter elements as ``a + b * macs_per_out_log2``
  plus noise of ``sd`` (least squares);
* ``unary_shrink``: share of other single-input operators whose output is
  smaller than their input, and the mean log2 of the ratio when it is;
* ``p_concat``: share of joining operators (two or more inputs) that
  concatenate (output = sum of inputs) rather than combine element-wise;
* ``input_log2``: log2 of the graph input's elements (mean, sd).

Usage: ``python -m scripts.training.fit_synthetic [--zoo .zoo]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from math import prod
from pathlib import Path

import numpy as np

from scripts import ROOT
from scripts.models import zoo
from tflite_serenity.graph import build_graph
from tflite_serenity.memory import is_activation
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu.costs import operator_macs

WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "CONV_3D"}
JOIN_CONCAT = {"CONCATENATION", "PACK"}


def model_files(folder: Path) -> list[Path]:
    return sorted((ROOT / "tests" / "data").glob("*_float.tflite")) + [
        m.path for m in zoo.models(folder, variants={"float"})]


def elements(graph, tensors) -> int:
    return sum(prod(graph.tensors[t].shape) for t in tensors if t >= 0 and is_activation(graph.tensors[t]))


def collect(files: list[Path]) -> dict[str, list]:
    data: dict[str, list] = {k: [] for k in ("indeg", "w_depth", "w_out", "w_mpo", "w_params", "unary_weighted",
                                            "unary_ratio", "join_concat", "input")}
    for path in files:
        graph = build_graph(read_model(path.read_bytes()), 0)
        n = graph.num_operators
        if n < 8:
            continue
        data["input"].append(np.log2(max(elements(graph, graph.inputs), 1)))
        for op in graph.operators:
            preds = graph.preds[op.index]
            if not preds:
                continue
            data["indeg"].append(min(len(preds), 4))
            out = max(elements(graph, op.outputs), 1)
            if op.kind in WEIGHTED:
                params = sum(prod(graph.tensors[t].shape) for t in op.inputs if t >= 0 and graph.tensors[t].has_data)
                data["w_depth"].append(op.index / n)
                data["w_out"].append(np.log2(out))
                data["w_mpo"].append(np.log2(max(operator_macs(graph, op) / out, 1)))
                data["w_params"].append(np.log2(max(params, 1)))
            if len(preds) == 1:
                data["unary_weighted"].append(op.kind in WEIGHTED)
                if op.kind not in WEIGHTED:
                    data["unary_ratio"].append(np.log2(out / max(elements(graph, op.inputs), 1)))
            else:
                data["join_concat"].append(op.kind in JOIN_CONCAT)
    return data


def fit(data: dict[str, list]) -> dict:
    indeg = np.asarray(data["indeg"])
    depth, out = np.asarray(data["w_depth"]), np.asarray(data["w_out"])
    slope, intercept = np.polyfit(depth, out, 1)
    mpo, params = np.asarray(data["w_mpo"]), np.asarray(data["w_params"])
    p_slope, p_intercept = np.polyfit(mpo, params, 1)
    ratio = np.asarray(data["unary_ratio"])
    shrink = ratio < -0.5
    inputs = np.asarray(data["input"])
    return {
        "in_degree": [round(float(np.mean(indeg == d)), 3) for d in (1, 2, 3, 4)],
        "p_weighted": round(float(np.mean(data["unary_weighted"])), 3),
        "out_log2": {"a": round(float(intercept), 2), "b": round(float(slope), 2),
                     "sd": round(float(np.std(out - (intercept + slope * depth))), 2)},
        "macs_per_out_log2": {"mean": round(float(mpo.mean()), 2), "sd": round(float(mpo.std()), 2)},
        "params_log2": {"a": round(float(p_intercept), 2), "b": round(float(p_slope), 2),
                        "sd": round(float(np.std(params - (p_intercept + p_slope * mpo))), 2)},
        "unary_shrink": {"p": round(float(shrink.mean()), 3), "log2_ratio": round(float(ratio[shrink].mean()), 2)},
        "p_concat": round(float(np.mean(data["join_concat"])), 3),
        "input_log2": {"mean": round(float(inputs.mean()), 2), "sd": round(float(inputs.std()), 2)},
        "operators": int(len(indeg)),
        "graphs": int(len(inputs)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.add_argument(parser)
    args = parser.parse_args(argv)
    files = model_files(args.zoo)
    print(json.dumps(fit(collect(files)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
