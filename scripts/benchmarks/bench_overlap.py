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

With ``--command``, the whole command instead (``optimize`` as the command
line runs it, without and with ``--overlap``): TFLite Micro's measured head
of the input, of each output, the figure the summary reports for the
``--overlap`` output (it must equal the measurement), how many outputs
overlap, whether that output runs bit-identical to the input in TFLite
Micro (one random input set; only where it differs from the output without
overlaps), and whether a second ``--overlap`` run gives the same bytes.
Defaults to every int8 zoo model and the committed models overlaps lower.

    python -m scripts.benchmarks.bench_overlap --command [MODEL.tflite ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from scripts import ROOT
from scripts.models import zoo
from tflite_serenity import optimize
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


#: The committed models whose arena overlaps lower in the whole command (tests/arena/test_overlap_command.py).
COMMAND_DEFAULT = sorted(zoo.DEFAULT.glob("*_int8.tflite")) + [
    ROOT / "tests" / "data" / f"{n}.tflite" for n in (
        "small_cnn_float", "per_pixel_int8", "per_pixel_float", "rewrite_pool_int8", "rewrite_pool_float")]


def command(paths: list[Path]) -> None:
    from tflite_serenity.tflm.interpreter import measure_tflm_arena

    def head(model: bytes) -> int | None:
        return measure_tflm_arena(model).head_bytes

    print("| model | head of the input | output | output with --overlap | reported | outputs overlapping | "
          "with / without | bit-identical | second run | seconds without / with |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        data = path.read_bytes()
        start = time.monotonic()
        plain = optimize(data)
        middle = time.monotonic()
        ours = optimize(data, overlap=True)
        end = time.monotonic()
        before, without, with_ = head(data), head(plain.model), head(ours.model)
        reported = ours.arena.head if ours.arena is not None else None
        overlapping = ours.arena.overlapping if ours.arena is not None else 0
        if ours.model == plain.model:
            identical = "same file"
        else:
            identical = compare_models(data, ours.model, runtime="tflm", trials=1).bit_identical
        again = optimize(ours.model, overlap=True).model == ours.model
        ratio = f"{with_ / without:.2f}" if with_ and without else "-"
        print(f"| {path.stem} | {_bytes(before)} | {_bytes(without)} | {_bytes(with_)} | {_bytes(reported)} | "
              f"{overlapping} | {ratio} | {identical} | {'unchanged' if again else 'CHANGED'} | "
              f"{middle - start:.1f} / {end - middle:.1f} |", flush=True)


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--command"]:
        command([Path(p) for p in args[1:]] or COMMAND_DEFAULT)
    else:
        main([Path(p) for p in args] or DEFAULT)
