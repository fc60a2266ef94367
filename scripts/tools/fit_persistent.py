"""Measure what TFLite Micro keeps per tensor, per operator and per channel,
and fit the costs of ``tflite_serenity.tflm.tail.PersistentCosts``.

TFLite Micro keeps bookkeeping in the tail of its arena for the whole run:
a ``TfLiteEvalTensor`` per tensor, a node and registration per operator, and
each kernel's own data (``OpData``, with an int32 multiplier and shift per
output channel of integer convolutions). Its recording allocator reports these
by category; each category is fitted on its own:

* per tensor: ``TfLiteEvalTensor data`` / tensors (the same on every model);
* per operator: ``NodeAndRegistration struct`` / operators;
* kernel data: ``Persistent buffer data`` by least squares over the operator
  counts by kind and the integer output channels, kinds with too few
  operators in the set pooled as "other".

The models: every int8 and float model of ``tests/data`` and of the zoo, and
the int8 ones again after row strips chosen by the activation peak alone
(strips add operators by the hundred, which is what the costs are for).

Measured by the ``tflite-micro`` package (this machine's build: x86-64), or by
another build: ``--write-models DIR`` writes the set, a build of TFLite Micro
for the device measures it and writes one JSON line per model
(``{"model": "<file name>", "categories": {"<category>": bytes, ...}}``,
the category names of ``RecordingMicroAllocator``), and ``--measured FILE``
fits those.

Usage::

    python -m scripts.models.make_zoo                       # once, builds .zoo/
    python -m scripts.tools.fit_persistent --save-as 64    # about 5 minutes
    python -m scripts.tools.fit_persistent --write-models /tmp/set
    python -m scripts.tools.fit_persistent --models-from /tmp/set --measured /tmp/set/tflm32.jsonl \
        --save-as 32 --build "tflite-micro <commit>, reference kernels, g++ -m32"
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from scripts import ROOT
from scripts.models import zoo
from tflite_serenity import optimize
from tflite_serenity.errors import SerenityError
from tflite_serenity.graph import build_graphs
from tflite_serenity.tflm.tail import PersistentCosts, PersistentCounts, model_persistent_counts
from tflite_serenity.model import read_model

TENSORS = "TfLiteEvalTensor data"
NODES = "NodeAndRegistration struct"
KERNELS = "Persistent buffer data"
#: Kinds with fewer operators than this over the whole set share one cost.
MIN_OPERATORS = 20

_MEASURE = """
import sys
from tflite_micro.python.tflite_micro import runtime
runtime.Interpreter.from_file(sys.argv[1], arena_size={arena}).print_allocations()
"""
_CATEGORY = re.compile(r"\[RecordingMicroAllocator\] '([^']+)' used (\d+) bytes")


def model_set(time_limit: float) -> dict[str, bytes]:
    """The models to measure, by file name."""
    found = ([("data", p) for p in sorted((ROOT / "tests" / "data").glob("*.tflite"))]
             + [("zoo", p) for p in sorted(m.path for m in zoo.models())])
    models: dict[str, bytes] = {}
    for source, path in found:
        data = path.read_bytes()
        name = f"{source}_{path.name}"
        try:
            counts(data)
        except SerenityError:
            continue  # dynamic shapes, say: not what TFLite Micro runs
        models[name] = data
        if path.stem.endswith("_int8"):
            result = optimize(data, strips_peak_only=True, time_limit=time_limit)
            if any(sub.strips for sub in result.subgraphs):
                models[name.replace(".tflite", "_strips.tflite")] = result.model
    return models


def counts(data: bytes) -> PersistentCounts:
    """The persistent counts of every subgraph of a model, summed."""
    return model_persistent_counts(build_graphs(read_model(data)))


def measure_with_package(path: Path, arena: int = 256 << 20) -> dict[str, int] | None:
    """The recording allocator's categories for one model, in a child process
    (TFLite Micro aborts on some models); None if it fails."""
    run = subprocess.run([sys.executable, "-c", _MEASURE.format(arena=arena), str(path)],
                         capture_output=True, text=True, timeout=600)
    found = {name: int(n) for name, n in _CATEGORY.findall(run.stdout + run.stderr)}
    return found if run.returncode == 0 and found else None


def fit(rows: list[tuple[str, PersistentCounts, dict[str, int]]]) -> dict:
    """The costs, fitted category by category (see the module docstring)."""
    per_tensor = [m.get(TENSORS, 0) / c.tensors for _, c, m in rows]
    per_operator = [m.get(NODES, 0) / sum(c.operators.values()) for _, c, m in rows if c.operators]
    totals: dict[str, int] = {}
    for _, c, _ in rows:
        for kind, n in c.operators.items():
            totals[kind] = totals.get(kind, 0) + n
    kinds = sorted(k for k, n in totals.items() if n >= MIN_OPERATORS)
    convolutions = sorted({k for _, c, _ in rows for k in c.channels})
    columns = kinds + ["other"] + [f"channels {k}" for k in convolutions] + ["model"]

    def features(c: PersistentCounts) -> list[float]:
        other = sum(n for k, n in c.operators.items() if k not in kinds)
        return [c.operators.get(k, 0) for k in kinds] + [other] + [c.channels.get(k, 0) for k in convolutions] + [1]

    a = np.array([features(c) for _, c, _ in rows], dtype=float)
    b = np.array([m.get(KERNELS, 0) for _, _, m in rows], dtype=float)
    # relative errors count, not bytes: small models weigh as much as large ones
    weight = 1 / np.maximum(b, 1)
    a, b = a * weight[:, None], b * weight
    # nonnegative least squares by dropping negative columns until none is left
    active = list(range(len(columns)))
    while True:
        x, *_ = np.linalg.lstsq(a[:, active], b, rcond=None)
        if (x >= 0).all():
            break
        active.pop(int(np.argmin(x)))
    coef = dict.fromkeys(columns, 0.0)
    coef.update({columns[i]: float(v) for i, v in zip(active, x)})
    return {
        "per_tensor": (min(per_tensor), max(per_tensor)),
        "per_operator": (min(per_operator), max(per_operator)),
        "op_data": {k: round(coef[k]) for k in kinds},
        "other_op_data": round(coef["other"]),
        "per_channel": {k: round(coef[f"channels {k}"]) for k in convolutions},
        "per_model": round(coef["model"]),
    }


def as_costs(costs: dict, name: str = "fitted") -> PersistentCosts:
    """The fitted figures as the memory model's :class:`PersistentCosts`."""
    return PersistentCosts(name, per_tensor=round(costs["per_tensor"][1]), per_operator=round(costs["per_operator"][1]),
                           op_data=costs["op_data"], other_op_data=costs["other_op_data"],
                           per_channel=costs["per_channel"])


def predicted(costs: dict, c: PersistentCounts) -> int:
    """The fitted tail of the three categories for one model."""
    return costs["per_model"] + as_costs(costs).bytes(c)


def save(costs: dict, bits: int, build: str, models: int) -> Path:
    """Write the costs into the package's measured costs, for pointer width ``bits``."""
    path = ROOT / "tflite_serenity" / "tflm_persistent.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    entry = dataclasses.asdict(as_costs(costs, f"TFLite Micro, {bits}-bit"))
    table[str(bits)] = {"name": entry.pop("name"), "build": build, "models": models, **entry}
    path.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--time-limit", type=float, default=20.0, help="seconds per optimized model")
    p.add_argument("--write-models", type=Path, help="write the model set here and stop")
    p.add_argument("--models-from", type=Path, help="read the model set from here (written by --write-models)")
    p.add_argument("--measured", type=Path, help="JSON lines measured by another build of TFLite Micro")
    p.add_argument("--json", type=Path, help="also write the costs and every model's figures here")
    p.add_argument("--save-as", type=int, choices=(32, 64),
                   help="write the costs into tflite_serenity/tflm_persistent.json for this pointer width")
    p.add_argument("--build", default="the tflite-micro package, x86-64",
                   help="with --save-as: which build of TFLite Micro measured them")
    args = p.parse_args(argv)

    if args.models_from:
        models = {path.name: path.read_bytes() for path in sorted(args.models_from.glob("*.tflite"))}
    else:
        models = model_set(args.time_limit)
    if args.write_models:
        args.write_models.mkdir(parents=True, exist_ok=True)
        for name, data in models.items():
            (args.write_models / name).write_bytes(data)
        print(f"wrote {len(models)} models to {args.write_models}")
        return 0

    if args.measured:
        lines = [json.loads(line) for line in args.measured.read_text().splitlines() if line.strip()]
        measured = {Path(d["model"]).name: d["categories"] for d in lines if d.get("ok", True)}
    else:
        work = Path(args.models_from) if args.models_from else zoo.DEFAULT / "persistent"
        work.mkdir(parents=True, exist_ok=True)
        measured = {}
        for name, data in models.items():
            path = work / name
            path.write_bytes(data)
            found = measure_with_package(path)
            if found:
                measured[name] = found

    rows = [(name, counts(models[name]), measured[name]) for name in models if name in measured]
    if not rows:
        print("no model was measured", file=sys.stderr)
        return 2
    costs = fit(rows)
    print(f"{len(rows)} models; per tensor {costs['per_tensor'][0]:.1f}-{costs['per_tensor'][1]:.1f} B, "
          f"per operator {costs['per_operator'][0]:.1f}-{costs['per_operator'][1]:.1f} B, "
          f"per output channel {json.dumps(costs['per_channel'])}")
    print("kernel data by kind:", json.dumps(costs["op_data"]), "other:", costs["other_op_data"])
    if args.save_as:
        print(f"wrote {save(costs, args.save_as, args.build, len(rows))}")
    print("| model | tensors | operators | measured (3 categories) | fitted | error |")
    print("|---|---|---|---|---|---|")
    figures = []
    for name, c, m in rows:
        real = m.get(TENSORS, 0) + m.get(NODES, 0) + m.get(KERNELS, 0)
        guess = predicted(costs, c)
        figures.append({"model": name, "tensors": c.tensors, "operators": c.operators, "channels": c.channels,
                        "categories": m, "fitted": guess})
        print(f"| {name} | {c.tensors} | {sum(c.operators.values())} | {real} | {guess} | "
              f"{(guess - real) / real:+.1%} |")
    print()
    print("What strips add (what the search is charged):")
    print("| model | operators added | measured | fitted | error |")
    print("|---|---|---|---|---|")
    by_name = {f["model"]: f for f in figures}
    for f in figures:
        base = by_name.get(f["model"].replace("_strips.tflite", ".tflite"))
        if base is None or base is f:
            continue
        real = sum(f["categories"].get(k, 0) - base["categories"].get(k, 0) for k in (TENSORS, NODES, KERNELS))
        guess = f["fitted"] - base["fitted"]
        added = sum(f["operators"].values()) - sum(base["operators"].values())
        print(f"| {f['model']} | {added} | {real} | {guess} | {(guess - real) / max(real, 1):+.1%} |")
    if args.json:
        args.json.write_text(json.dumps({"costs": costs, "models": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
