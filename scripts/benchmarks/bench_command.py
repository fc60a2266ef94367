"""Time the whole command on the zoo: this checkout against a reference one.

For every model of the zoo (``scripts/models/make_zoo.py``), runs
``python -m tflite_serenity IN OUT --quiet`` once with this checkout's
package and once with the reference's (``--reference``: a directory holding
a ``tflite_serenity`` package, e.g. a ``git worktree`` of an older commit with
its extensions built), one right after the other, so both see the same load
on a shared machine. Prints the wall seconds of each, their ratio, whether
the two outputs are the same bytes, and the median ratio and seconds over the
int8 and the float models; then the same for the CPU seconds of each command
(user and system, the child process's and the worker processes' it forks
to score row-strip candidates), which a loaded machine inflates far less
than wall seconds.

Both packages are byte-compiled first, as an installed package is: where
``PYTHONDONTWRITEBYTECODE`` is set (as on our CI machines), every run would
otherwise compile each module from source again, which is not what a user
waits for.

Examples
--------
git worktree add /tmp/ref <commit> && (cd /tmp/ref && python setup.py build_ext --inplace -q)
python -m scripts.benchmarks.bench_command --reference /tmp/ref
python -m scripts.benchmarks.bench_command --reference /tmp/ref --only nasnetmobile,darts --repeat 3
"""

from __future__ import annotations

import argparse
import compileall
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


def run(package: Path, model: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the whole command with ``package`` first on the
    path (Python's start and imports included: what a user waits for)."""
    env = dict(os.environ, PYTHONPATH=str(package))
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "tflite_serenity", str(model), str(out), "--quiet"], env=env,
                             cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a directory holding the reference package")
    zoo.add_argument(parser)
    parser.add_argument("--only", default="", help="comma-separated model names (default: the whole zoo)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the lowest time counts")
    args = parser.parse_args()
    models = sorted(m.path for m in zoo.models(args.zoo, only=zoo.names(args.only)))
    for package in (args.reference, ROOT):
        compileall.compile_dir(package / "tflite_serenity", quiet=1)
    rows = []
    print(f"{'model':<28} {'reference s':>11} {'this s':>8} {'ratio':>6}  same bytes cpu {'ref s':>6} "
          f"{'this s':>6} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            ref_out, new_out = Path(tmp) / f"ref_{model.name}", Path(tmp) / f"new_{model.name}"
            before = after = (float("inf"), float("inf"))
            for _ in range(args.repeat):  # interleaved: both see the same load
                before = min(before, run(args.reference, model, ref_out))
                after = min(after, run(ROOT, model, new_out))
            same = filecmp.cmp(ref_out, new_out, shallow=False)
            rows.append((model.stem, before, after, same))
            print(f"{model.stem:<28} {before[0]:11.2f} {after[0]:8.2f} {before[0] / after[0]:6.2f}  "
                  f"{'yes' if same else 'NO ':<10} cpu {before[1]:6.2f} {after[1]:6.2f} {before[1] / after[1]:6.2f}",
                  flush=True)
    for which, name in ((0, "wall"), (1, "cpu")):
        for kind in ("int8", "float"):
            chosen = [(r[1][which], r[2][which]) for r in rows if r[0].endswith(kind)]
            if chosen:
                before = statistics.median(b for b, _ in chosen)
                after = statistics.median(a for _, a in chosen)
                print(f"{name}, median over {kind} ({len(chosen)}): "
                      f"reference {before:.2f} s, this {after:.2f} s, {before / after:.2f}x; "
                      f"median of the per-model ratios {statistics.median(b / a for b, a in chosen):.2f}; "
                      f"slowest {max(a for _, a in chosen):.2f} s")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
