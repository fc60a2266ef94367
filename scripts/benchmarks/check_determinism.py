"""Check that the optimize command writes the same bytes under load and with a
short time limit as with the default, and that a second run changes nothing.

Two CPU-bound processes run beside the command the whole time (on a 2-core
machine that is a machine three times as busy). For each model, three
commands: the default, ``--time-limit 5``, and the default again on the
output; the table says whether the bytes agree. Exit code 1 if any differ.

Examples
--------
python -m scripts.benchmarks.check_determinism      # NASNetMobile, RandWire WS/ER, DARTS (int8) of .zoo/
python -m scripts.benchmarks.check_determinism .zoo/unet_int8.tflite tests/data/darts_tiny_int8.tflite
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.models import zoo

#: The zoo networks checked when no model is named (their int8 files).
DEFAULT_NAMES = {"nasnetmobile", "randwire_ws", "randwire_er", "darts"}
BUSY = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end:\n    pass\n"


def optimize(model: Path, out: Path, *extra: str) -> float:
    """Run the command; returns its wall seconds."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "tflite_serenity", str(model), str(out), "--quiet", *extra],
                   check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path, help="default: the int8 NASNetMobile, RandWire WS/ER and "
                                                             "DARTS of the zoo")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside the command (default: 2)")
    args = parser.parse_args()
    models = args.models or [m.path for m in zoo.models(only=DEFAULT_NAMES, variants={"int8"})]
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.hogs)]
    failed = False
    try:
        print(f"{'model':<28} {'default s':>9} {'limit 5 s':>9}  same with --time-limit 5  second run unchanged")
        with tempfile.TemporaryDirectory() as tmp:
            for model in models:
                a, b, c = (Path(tmp) / f"{model.stem}.{k}.tflite" for k in "abc")
                seconds_a = optimize(model, a)
                seconds_b = optimize(model, b, "--time-limit", "5")
                optimize(a, c)
                same, idempotent = a.read_bytes() == b.read_bytes(), a.read_bytes() == c.read_bytes()
                failed |= not (same and idempotent)
                print(f"{model.name:<28} {seconds_a:>9.1f} {seconds_b:>9.1f}  {'yes' if same else 'NO':<24} "
                      f"{'yes' if idempotent else 'NO'}")
    finally:
        for hog in hogs:
            hog.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
