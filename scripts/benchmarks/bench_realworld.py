"""The real-world patterns (tests/data/realworld_*.tflite): what the optimize
command does to each, with its default options, as a Markdown table.

Per model: operators, the peak of live activation bytes without sharing in
the input and the output (summed over subgraphs; what LiteRT and TFLite
Micro's own planner aim at), TFLite Micro's simulated arena head of input
and output, the status of every subgraph, whether the output equals the
input, and the seconds of the whole call.

Example
-------
python -m scripts.benchmarks.bench_realworld
"""

from __future__ import annotations

import argparse
import json
import time

from scripts import ROOT
from tflite_serenity import memory, optimize
from tflite_serenity.tflm.simulate import stored_head
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model

DATA = ROOT / "tests" / "data"


def head(data: bytes) -> str:
    model = read_model(data)
    value = stored_head(model, build_graphs(model))
    return "-" if value is None else f"{value:,}"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    names = sorted(json.loads((DATA / "REALWORLD.json").read_text()))
    print("| model | ops | peak in (B) | peak out (B) | TFLite Micro head in (B) | head out (B) | status | "
          "unchanged | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        data = (DATA / name).read_bytes()
        start = time.monotonic()
        result = optimize(data)
        seconds = time.monotonic() - start
        peak_in = sum(memory.peak_bytes(g) for g in build_graphs(read_model(data)))
        peak_out = sum(memory.peak_bytes(g) for g in build_graphs(read_model(result.model)))
        status = "; ".join(sorted({s.status + (f": {s.note}" if s.note else "") for s in result.subgraphs}))
        ops = sum(s.operators for s in result.subgraphs)
        print(f"| {name.removeprefix('realworld_').removesuffix('.tflite')} | {ops} | {peak_in:,} | {peak_out:,} | "
              f"{head(data)} | {head(result.model)} | {status} | {'yes' if result.model == data else 'no'} | "
              f"{seconds:.2f} |")


if __name__ == "__main__":
    main()
