"""Scale check: a synthetic 5,000-operator model through the whole command.

Builds a random DAG of float ADDs (scripts/models/synthetic_model.py), runs
``python -m tflite_serenity IN OUT`` on it with the default options, and
prints the wall time, the scheduler's figures and whether LiteRT gives
bit-identical outputs.

    python -m scripts.benchmarks.bench_large [--ops 5000] [--time-limit S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.models.synthetic_model import random_add_dag
from tflite_serenity.verify import compare_models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--time-limit", type=float, help="passed on (default: the command's own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "large.tflite", Path(tmp) / "large_opt.tflite"
        src.write_bytes(random_add_dag(args.ops))
        cmd = [sys.executable, "-m", "tflite_serenity", str(src), str(dst), "--json"]
        if args.time_limit is not None:
            cmd += ["--time-limit", str(args.time_limit)]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        (sub,) = json.loads(proc.stdout)["subgraphs"]
        same = compare_models(src.read_bytes(), dst.read_bytes(), runtime="litert").bit_identical
        print(f"{sub['operators']} operators: {wall:.1f} s wall for the whole command "
              f"(search {sub['seconds']:.1f} s); peak {sub['peak_before']:,} -> {sub['peak_after']:,} B, "
              f"{sub['status']}{' (' + sub['note'] + ')' if sub['note'] else ''}; "
              f"LiteRT bit-identical: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
