"""What overlapped placement could buy (issue 20, point 2): a live-bytes estimate.

For each model: TFLite Micro's measured head today, the live-bytes peak of
the stored order (every tensor apart), and the same peak when each eligible
operator's output overlaps its dying input by the rule of
tflite_serenity.arena.overlap (tflite_serenity.arena.overlap_peak), once
for element-wise operators only (what the main command's in-place outputs
already give) and once for every kind with a rule. The
estimate places nothing: it is what an overlap-aware planner could reach.

    python scripts/bench_overlap.py [MODEL.tflite ...]

Defaults to the zoo's int8 chains (.zoo/, made by scripts/make_zoo.py) and
the committed small MobileNet-like test models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tflite_serenity.arena.overlap_peak import estimate
from tflite_serenity.model import read_model

#: What the main command's in-place outputs already do (docs/arena.md).
ELEMENTWISE = ("ADD", "SUB", "MUL")
from tflite_serenity.verify import measure_tflm_arena

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / ".zoo" / f"{n}_int8.tflite" for n in ("mobilenetv2", "efficientnetb0", "resnet50")] + [
    ROOT / "tests" / "data" / f"{n}.tflite" for n in (
        "small_cnn_int8", "rewrite_depthwise_int8", "rewrite_nested_int8", "rewrite_conv_int8",
        "rewrite_pool_int8", "inplace_int8")]


def main(paths: list[Path]) -> None:
    print("| model | TFLite Micro head today | live peak today | element-wise in place | all overlaps | "
          "all / head | operators overlapped |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        data = path.read_bytes()
        model = read_model(data)
        est = estimate(model)
        inplace = estimate(model, kinds=ELEMENTWISE)
        head = measure_tflm_arena(data).head_bytes
        ratio = f"{est.overlapped_peak / head:.2f}" if head else "-"
        print(f"| {path.stem} | {head:,} | {est.live_peak:,} | {inplace.overlapped_peak:,} | "
              f"{est.overlapped_peak:,} | {ratio} | {len(est.chosen)} |")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or DEFAULT)
