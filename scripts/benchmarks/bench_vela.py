"""Our TFLite Micro head beside Arm Vela's SRAM figure, on every int8 model of the zoo (issue 20).

For each int8 zoo model (``python -m scripts.models.make_zoo``), in bytes:

* ``ours, input``: the head (planned activation bytes) TFLite Micro measures
  for the input model, with its own greedy planner;
* ``ours, output``: the head TFLite Micro measures for the main command's
  default output (``tflite_serenity.optimize``: order, rewrites, strips,
  offline arena plan with overlaps, verified with TFLite Micro's reference
  kernels and CMSIS-NN), and whether its outputs are bit-identical to the
  input model's in TFLite Micro (two random input sets);
* ``output, no overlaps``: the same for ``--no-overlap``
  (``optimize(..., overlap=False)``: every output placed apart, for kernel
  libraries whose loop order was not verified);
* ``Vela``: ``sram_memory_used`` of Vela's summary CSV (KiB, times 1024) for
  an Ethos-U55-128, size-optimised, weights in flash (Shared_Sram), with the
  ``vela.ini`` that ships with Vela; ``Vela CPU ops`` counts the operators it
  leaves on the CPU, which that figure does not include;
* ``output / Vela`` and ``no overlaps / Vela``;
* ``whole arena, input / output``: TFLite Micro's measured head + tail.

Vela is not a dependency (``pip install -e ".[bench]"``, or its own venv):
it is found on PATH or given with ``--vela``; without it the Vela columns
are left out with one line saying so.

Examples
--------
python -m scripts.benchmarks.bench_vela
python -m scripts.benchmarks.bench_vela --vela /work/venv-vela/bin/vela --only mobilenetv2_224,resnet8
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.models import zoo
from tflite_serenity import __version__, optimize
from tflite_serenity.verify import compare_models, measure_tflm_arena

#: Vela's flags of issue 20: Ethos-U55 with 128 MACs, weights in flash, size first.
VELA_FLAGS = ("--accelerator-config", "ethos-u55-128", "--optimise", "Size",
              "--system-config", "Ethos_U55_High_End_Embedded", "--memory-mode", "Shared_Sram")
#: Where the config Vela ships sits inside its package.
VELA_INI = Path("ethosu", "config_files", "Arm", "vela.ini")
_CPU_OPS = re.compile(r"^CPU operators = (\d+)", re.MULTILINE)
_VERSION = re.compile(r"\d+\.\d+\.\d+\S*")


@dataclass(frozen=True)
class Vela:
    """A Vela executable and the ``vela.ini`` of its package."""

    executable: Path
    config: Path

    def version(self) -> str:
        out = subprocess.run([str(self.executable), "--version"], capture_output=True, text=True, check=True)
        found = _VERSION.search(out.stdout)
        return found.group(0) if found else out.stdout.strip()


@dataclass(frozen=True)
class VelaFigure:
    """What Vela reported for one model: SRAM bytes and operators left on the CPU."""

    sram_bytes: int
    cpu_operators: int


def find_vela(given: Path | None) -> Vela | None:
    """The Vela of ``--vela``, else the one on PATH; None when there is none.

    Its ``vela.ini`` is looked up in this Python's packages (``ethos-u-vela``
    installed with the ``bench`` extra), then in the environment of the
    executable (Vela in its own venv)."""
    found = given if given is not None else shutil.which("vela")
    if found is None:
        return None
    executable = Path(found)
    if not executable.is_file():
        raise SystemExit(f"--vela {executable}: no such file")
    spec = importlib.util.find_spec("ethosu")
    candidates = [Path(p) / VELA_INI.relative_to("ethosu") for p in (spec.submodule_search_locations or [])] \
        if spec else []
    candidates += sorted(executable.resolve().parent.parent.glob(f"lib/python*/site-packages/{VELA_INI}"))
    for config in candidates:
        if config.is_file():
            return Vela(executable, config)
    raise SystemExit(f"no {VELA_INI} beside {executable} or in this Python's packages")


def run_vela(vela: Vela, data: bytes, stem: str) -> VelaFigure:
    """Compile ``data`` with Vela and read ``sram_memory_used`` (KiB) from its summary CSV."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"{stem}.tflite"
        source.write_bytes(data)
        out = subprocess.run([str(vela.executable), str(source), *VELA_FLAGS, "--config", str(vela.config),
                              "--output-dir", folder], capture_output=True, text=True)
        if out.returncode != 0:
            last = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no message"]
            raise RuntimeError(f"vela exit {out.returncode}: {last[0]}")
        (summary,) = Path(folder).glob(f"{stem}_summary_*.csv")
        with summary.open(newline="") as f:
            (row,) = csv.DictReader(f)
        cpu = _CPU_OPS.search(out.stdout)
        return VelaFigure(round(float(row["sram_memory_used"]) * 1024), int(cpu.group(1)) if cpu else -1)


def bench_model(path: Path, vela: Vela | None) -> dict:
    """One row: our heads (input, default output, output with overlaps), Vela's figure, whole arenas."""
    data = path.read_bytes()
    source = measure_tflm_arena(data)
    ours = optimize(data).model
    check = compare_models(data, ours, runtime="tflm", trials=2)
    output = measure_tflm_arena(ours)
    plain = measure_tflm_arena(optimize(data, overlap=False).model)
    row = {
        "model": path.stem,
        "input": source.head_bytes,
        "output": output.head_bytes,
        "no_overlap": plain.head_bytes,
        "output_identical": check.bit_identical,
        "input_total": source.total_bytes,
        "output_total": output.total_bytes,
        "vela": None,
        "vela_cpu": None,
        "error": source.error or output.error or plain.error or check.error,
    }
    if vela is not None:
        try:
            figure = run_vela(vela, data, path.stem)
        except RuntimeError as err:  # one model Vela rejects leaves its cells empty, not the table
            row["error"] = "; ".join(e for e in (row["error"], str(err)) if e)
        else:
            row["vela"], row["vela_cpu"] = figure.sram_bytes, figure.cpu_operators
    return row


def _bytes(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ratio(ours: int | None, theirs: int | None) -> str:
    return "-" if not ours or not theirs else f"{ours / theirs:.2f}"


def columns(with_vela: bool) -> list[str]:
    titles = ["model", "ours, input (B)", "ours, output (B)", "bit-identical", "output, no overlaps (B)"]
    if with_vela:
        titles += ["Vela (B)", "Vela CPU ops", "output / Vela", "no overlaps / Vela"]
    return titles + ["whole arena, input (B)", "whole arena, output (B)"]


def cells(row: dict, with_vela: bool) -> list[str]:
    found = [row["model"], _bytes(row["input"]), _bytes(row["output"]),
             "yes" if row["output_identical"] else "NO", _bytes(row["no_overlap"])]
    if with_vela:
        found += [_bytes(row["vela"]), "-" if row["vela_cpu"] is None else str(row["vela_cpu"]), _ratio(row["output"], row["vela"]),
                  _ratio(row["no_overlap"], row["vela"])]
    return found + [_bytes(row["input_total"]), _bytes(row["output_total"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    zoo.add_argument(parser)
    parser.add_argument("--only", metavar="NAME[,NAME]", help="only these zoo networks")
    parser.add_argument("--vela", type=Path, help="the vela executable (default: vela on PATH)")
    args = parser.parse_args(argv)

    models = zoo.models(args.zoo, only=zoo.names(args.only), variants={"int8"}, runs_in="tflm")
    vela = find_vela(args.vela)
    print(f"# tflite-serenity {__version__}, Python {platform.python_version()}, "
          + (f"Vela {vela.version()} ({vela.executable}, {' '.join(VELA_FLAGS)}, --config {vela.config})"
             if vela else "Vela not found (not on PATH, no --vela): the Vela columns are left out"))
    titles = columns(vela is not None)
    print("| " + " | ".join(titles) + " |")
    print("|---|" + "---:|" * (len(titles) - 1))
    rows = []
    for model in models:
        row = bench_model(model.path, vela)
        rows.append(row)
        print("| " + " | ".join(cells(row, vela is not None)) + " |", flush=True)
        if row["error"]:
            print(f"  error: {row['error']}", flush=True)
    if vela is not None:
        npu = [r for r in rows if r["vela"] is not None and r["vela_cpu"] == 0]
        at_or_below = sum(r["output"] is not None and r["output"] <= r["vela"] for r in npu)
        plain = sum(r["no_overlap"] is not None and r["no_overlap"] <= r["vela"] for r in npu)
        print(f"\nof {len(npu)} models Vela maps wholly to the NPU, ours at or below Vela's figure: "
              f"output {at_or_below}, with --no-overlap {plain}")
    return 0 if all(r["error"] is None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
