"""WHILE-loop row strips (issue 20): TFLite Micro's whole arena with the loops and their pins.

Rewrites each ``--region START:STOP:STRIPS`` of subgraph 0 with
tflite_serenity.rewrite.loop_strips (the last region first, so earlier
positions stay), writes the offline plan pinning the loops' alias groups
(loop_plan.with_alias_plan), and prints TFLite Micro's measured head, tail
and total for the input, the loops without the plan, the loops with it, and the same
regions as unrolled strips (strips.tile), plus whether the planned model's
outputs are bit-identical to the input's in TFLite Micro and in LiteRT
(each runtime against itself) on ``--trials`` random input sets.

    python -m scripts.benchmarks.bench_loops                      # MobileNetV2 1.0/224 int8, three loops
    python -m scripts.benchmarks.bench_loops tests/data/loop_chain_int8.tflite --region 0:3:8 --region 3:10:8

The default model is the zoo's (.zoo/, made by python -m scripts.models.make_zoo)
with the regions of the WHILE spike: 0:6:56, 6:13:14 and 13:21:14.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from scripts.models import zoo
from tflite_serenity.model import read_model, write_model
from tflite_serenity.rewrite.loop_plan import with_alias_plan
from tflite_serenity.rewrite.loop_strips import loop_strips
from tflite_serenity.rewrite.strips import tile
from tflite_serenity.verify import compare_models, measure_tflm_arena

DEFAULT_MODEL = zoo.DEFAULT / "mobilenetv2_224_int8.tflite"
DEFAULT_REGIONS = ("0:6:56", "6:13:14", "13:21:14")


def _regions(texts) -> list[tuple[int, int, int]]:
    return sorted((tuple(int(v) for v in text.split(":")) for text in texts), reverse=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--region", action="append", help="START:STOP:STRIPS in subgraph 0's stored order")
    p.add_argument("--trials", type=int, default=3, help="random input sets compared in each runtime")
    p.add_argument("--exit-in-place", action="store_true", help="pin each run's exit too (alias_groups)")
    args = p.parse_args(argv)
    regions = _regions(args.region or DEFAULT_REGIONS)
    data = args.model.read_bytes()
    started = time.perf_counter()
    looped = unrolled = read_model(data)
    for start, stop, strips in regions:
        done = loop_strips(looped, 0, start, stop, strips)
        looped = done.model
        print(f"loop {start}:{stop} in {strips} strips: strips {done.loop.first}..{done.loop.stop_strip - 1} "
              f"as {done.loop.iterations} turns of {done.loop.body_operators} operators")
        cut = tile(unrolled, 0, start, stop, strips)
        unrolled = cut.model if cut is not None else unrolled
    planned, pins = with_alias_plan(looped, exit_in_place=args.exit_in_place)
    print(f"rewrite and plan: {time.perf_counter() - started:.2f} s; pins: "
          + ", ".join(f"{pin.group.nbytes} B at {pin.offset} ({len(pin.group.tensors)} tensors)" for pin in pins))
    planned_bytes = write_model(planned)
    print("| model | head | tail | total | error |")
    print("|---|---|---|---|---|")
    for name, model in (("input", data), ("unrolled strips", write_model(unrolled)),
                        ("loops, no plan", write_model(looped)), ("loops, pinned", planned_bytes)):
        run = measure_tflm_arena(model)
        print(f"| {name} | {run.head_bytes} | {run.tail_bytes} | {run.total_bytes} | {run.error or ''} |")
    for runtime in ("tflm", "litert"):
        print(compare_models(data, planned_bytes, runtime=runtime, trials=args.trials).describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
