"""Whole-arena ratios from arenas measured by another build of TFLite Micro.

``bench.py --save DIR`` and ``bench_rewrite.py --save DIR`` write every input
and output model. A build of TFLite Micro for the device (a 32-bit one, say:
docs/memory-model.md) measures each file and writes one JSON line per model,
``{"model": "<path>", "used": bytes, "head": bytes, "tail": bytes}`` (lines
with ``"ok": false`` are skipped). This prints, per model, the whole arena
(head and tail: what ``arena_size`` must hold) of the input and of each output,
their ratio, and the geometric means over the issue's irregular set and all.

Usage::

    python -m scripts.benchmarks.bench_rewrite --verify --tflm --save /tmp/rw
    for f in /tmp/rw/*.tflite; do measure32 "$f"; done > /tmp/rw/arenas32.jsonl
    python -m scripts.benchmarks.compare_arenas /tmp/rw/arenas32.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

#: bench_rewrite.py's modes (a mode that changed nothing is not written: it is
#: the in-place model); bench.py writes one output, ``<input>_serenity``.
MODES = ("inplace", "exact", "strips", "peak_only", "approximate")
ISSUE_SET = ("randwire_ws", "randwire_er", "darts", "swiftnet", "nasnetmobile")


def read(path: Path) -> dict[str, int]:
    """Whole arena bytes by model file stem."""
    found = {}
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            if entry.get("ok", True):
                found[Path(entry["model"]).stem] = int(entry["used"])
    return found


def outputs(arenas: dict[str, int], stem: str) -> dict[str, int]:
    """Each output of input ``stem``: its mode (or "serenity") and whole arena."""
    if f"{stem}_serenity" in arenas:
        return {"serenity": arenas[f"{stem}_serenity"]}
    if f"{stem}_inplace" not in arenas:
        return {}
    return {mode: arenas.get(f"{stem}_{mode}", arenas[f"{stem}_inplace"]) for mode in MODES}


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("measured", type=Path, help="JSON lines, one per model file")
    args = p.parse_args(argv)
    arenas = read(args.measured)
    inputs = sorted(stem for stem in arenas if outputs(arenas, stem) and not any(
        stem.endswith(f"_{m}") for m in (*MODES, "serenity")))
    if not inputs:
        print(f"no input model with outputs in {args.measured}", file=sys.stderr)
        return 2
    ratios: dict[str, dict[str, float]] = {}
    print("| model | input (KiB) | outputs (KiB) | input / output |")
    print("|---|---|---|---|")
    for stem in inputs:
        outs = outputs(arenas, stem)
        ratios[stem] = {mode: arenas[stem] / n for mode, n in outs.items()}
        print(f"| {stem} | {arenas[stem] / 1024:,.1f} | "
              + ", ".join(f"{mode} {n / 1024:,.1f}" for mode, n in outs.items()) + " | "
              + ", ".join(f"{mode} {r:.3f}x" for mode, r in ratios[stem].items()) + " |")
    print()
    modes = sorted({mode for r in ratios.values() for mode in r}, key=lambda m: (MODES + ("serenity",)).index(m))
    for subset, member in (("the issue's irregular set", lambda s: s.rsplit("_", 1)[0] in ISSUE_SET),
                           ("all", lambda s: True)):
        for variant in ("float", "int8"):
            chosen = [s for s in ratios if s.endswith(f"_{variant}") and member(s)]
            if chosen:
                means = ", ".join(f"{mode} {geomean([ratios[s][mode] for s in chosen if mode in ratios[s]]):.3f}x"
                                  for mode in modes)
                print(f"whole arena, geometric mean input / output, {variant}, {subset} ({len(chosen)}): {means}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
