"""What overlapped placement buys (issue 20, point 2): estimated, and measured in TFLite Micro.

For each model: TFLite Micro's measured head today, the live-bytes peak of
the stored order (every tensor apart), and the same peak when each eligible
operator's output overlaps its dying input by the rule of
tflite_serenity.arena.overlap (tflite_serenity.arena.overlap_peak), once
for element-wise operators only (what the main command's in-place outputs
already give) and once for every kind with a rule; then the head TFLite
Micro measures with the prototype overlapped plan
(plan_arena(..., overlap=True)), and whether its outputs are bit-identical
to the input model's on two random input sets.

    python -m scripts.benchmarks.bench_overlap [MODEL.tflite ...]

Defaults to the zoo's int8 chains (.zoo/, made by python -m scripts.models.make_zoo) and
the committed small MobileNet-like test models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts import ROOT
from scripts.models import zoo
from tflite_serenity.arena.model_plan import plan_arena
from tflite_serenity.arena.overlap_peak import estimate
from tflite_serenity.model import read_model, write_model
from tflite_serenity.verify import compare_models

#: What the main command's in-place outputs already do (docs/arena.md).
ELEMENTWISE = ("ADD", "SUB", "MUL")

DEFAULT = [zoo.DEFAULT / f"{n}_int8.tflite" for n in ("mobilenetv2", "efficientnetb0", "resnet50")] + [
    ROOT / "tests" / "data" / f"{n}.tflite" for n in (
        "small_cnn_int8", "rewrite_depthwise_int8", "rewrite_nested_int8", "rewrite_conv_int8",
        "rewrite_pool_int8", "inplace_int8")]


def main(paths: list[Path]) -> None:
    print("| model | TFLite Micro head today | arena plan, in place | estimate: element-wise in place | "
          "estimate: all overlaps | overlapped plan, measured | measured / today | bit-identical |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        data = path.read_bytes()
        model = read_model(data)
        est = estimate(model)
        inplace = estimate(model, kinds=ELEMENTWISE)
        _, today_plan = plan_arena(model, inplace=True)
        out, figures = plan_arena(model, inplace=True, overlap=True)
        comparison = compare_models(data, write_model(out), runtime="tflm", trials=2)
        head = comparison.original_tflm.head_bytes
        ours = comparison.candidate_tflm.head_bytes
        print(f"| {path.stem} | {head:,} | {today_plan.head:,} | {inplace.overlapped_peak:,} | "
              f"{est.overlapped_peak:,} | {ours:,} | {ours / head:.2f} | {comparison.bit_identical} |")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or DEFAULT)
