"""Time the whole command on the zoo: this checkout against a reference one.

For every model of the zoo (``scripts/models/make_zoo.py``), runs
``python -m tflite_serenity IN OUT --quiet`` once with this checkout's
package and once with the reference's (``--reference``: a directory holding
a ``tflite_serenity`` package, e.g. a ``git worktree`` of an older commit with
its extensions built), one right after the other, so both see the same load
on a shared machine. Prints the wall seconds of each, their ratio, whether
the two outputs are the same bytes, and the median ratio and seconds over the
int8 and the float models.

Examples
--------
git worktree add /tmp/ref <commit> && (cd /tmp/ref && python setup.py build_ext --inplace -q)
python -m scripts.benchmarks.bench_command --reference /tmp/ref
python -m scripts.benchmarks.bench_command --reference /tmp/ref --only nasnetmobile,darts --repeat 3
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import ROOT
from scripts.models import zoo


def run(package: Path, model: Path, out: Path) -> float:
    """Wall seconds of the whole command with ``package`` first on the path
    (Python's start and imports included: what a user waits for)."""
    env = dict(os.environ, PYTHONPATH=str(package))
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "tflite_serenity", str(model), str(out), "--quiet"], env=env,
                   check=True, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a directory holding the reference package")
    zoo.add_argument(parser)
    parser.add_argument("--only", default="", help="comma-separated model names (default: the whole zoo)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the lowest time counts")
    args = parser.parse_args()
    models = sorted(m.path for m in zoo.models(args.zoo, only=zoo.names(args.only)))
    rows = []
    print(f"{'model':<28} {'reference s':>11} {'this s':>8} {'ratio':>6}  same bytes")
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            ref_out, new_out = Path(tmp) / f"ref_{model.name}", Path(tmp) / f"new_{model.name}"
            before = after = float("inf")
            for _ in range(args.repeat):  # interleaved: both see the same load
                before = min(before, run(args.reference, model, ref_out))
                after = min(after, run(ROOT, model, new_out))
            same = filecmp.cmp(ref_out, new_out, shallow=False)
            rows.append((model.stem, before, after, same))
            print(f"{model.stem:<28} {before:11.2f} {after:8.2f} {before / after:6.2f}  {'yes' if same else 'NO'}",
                  flush=True)
    for kind in ("int8", "float"):
        chosen = [r for r in rows if r[0].endswith(kind)]
        if chosen:
            print(f"median over {kind} ({len(chosen)}): reference {statistics.median(r[1] for r in chosen):.2f} s, "
                  f"this {statistics.median(r[2] for r in chosen):.2f} s, "
                  f"ratio {statistics.median(r[1] / r[2] for r in chosen):.2f}; "
                  f"slowest {max(r[2] for r in chosen):.2f} s")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
