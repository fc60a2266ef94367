"""Describe .tflite files and check that LiteRT and TFLite Micro run them.

Imports neither TensorFlow nor Keras: the schema comes from the
``tflite_micro`` wheel.  Each run happens in a child process because some
TFLite Micro kernels ``abort()`` the whole process on bad quantization
parameters; a dead child is then just a failed check.

Run as a module it is that child:
``python -m scripts.models.modelcheck {litert|tflm} MODEL.tflite`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from scripts import ROOT

RUNTIMES = ("litert", "tflm")
_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_NUMPY_TYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
                "int32": np.int32, "int64": np.int64, "bool": np.bool_}


def _op_name(model: schema.Model, op: schema.Operator) -> str:
    """Builtin operator name, or ``CUSTOM:<code>`` for custom operators."""
    code = model.OperatorCodes(op.OpcodeIndex())
    name = _OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
    if name == "CUSTOM":
        name += ":" + (code.CustomCode() or b"").decode()
    return name


def _tensor_info(graph: schema.SubGraph, index: int) -> dict:
    """Name, shape, shape signature (-1 = dynamic) and dtype of one tensor."""
    tensor = graph.Tensors(index)
    shape = [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    signature = [int(d) for d in tensor.ShapeSignatureAsNumpy()] if tensor.ShapeSignatureLength() else shape
    return {"name": (tensor.Name() or b"").decode(), "shape": shape,
            "shape_signature": signature, "dtype": _TYPE_NAMES[tensor.Type()]}


def _activation_bytes(model: schema.Model, graph: schema.SubGraph) -> int:
    """Total size of the tensors of ``graph`` that have no constant data."""
    total = 0
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        if model.Buffers(tensor.Buffer()).DataLength() == 0:
            size = np.dtype(_NUMPY_TYPES.get(_TYPE_NAMES[tensor.Type()], np.float32)).itemsize
            total += size * int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else size
    return total


def describe(data: bytes) -> dict:
    """Summary of a .tflite flatbuffer: operators, subgraphs, inputs, outputs, variables."""
    model = schema.Model.GetRootAsModel(data, 0)
    graphs = [model.Subgraphs(i) for i in range(model.SubgraphsLength())]
    counts: collections.Counter = collections.Counter()
    for graph in graphs:
        counts.update(_op_name(model, graph.Operators(i)) for i in range(graph.OperatorsLength()))
    main = graphs[0]
    return {
        "op_count": sum(g.OperatorsLength() for g in graphs),
        "op_count_per_subgraph": [g.OperatorsLength() for g in graphs],
        "operator_types": dict(sorted(counts.items())),
        "subgraph_count": len(graphs),
        "inputs": [_tensor_info(main, main.Inputs(i)) for i in range(main.InputsLength())],
        "outputs": [_tensor_info(main, main.Outputs(i)) for i in range(main.OutputsLength())],
        "variable_tensors": sum(
            g.Tensors(i).IsVariable() for g in graphs for i in range(g.TensorsLength())
        ),
        "activation_bytes_upper_bound": sum(_activation_bytes(model, g) for g in graphs),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _random_input(info: dict, rng: np.random.Generator) -> np.ndarray:
    """A random value for one input tensor; dynamic dimensions become 1."""
    shape = [max(d, 1) for d in info["shape"]]
    dtype = np.dtype(_NUMPY_TYPES[info["dtype"]])
    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(size=shape) < 0.5
    limits = np.iinfo(dtype)
    return rng.integers(max(limits.min, -128), min(limits.max, 127), size=shape, endpoint=True, dtype=dtype)


def _litert_runner(data: bytes):
    """A function inputs -> outputs backed by LiteRT without default delegates."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=data,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        for detail, value in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]

    return run


def _tflm_runner(data: bytes, n_outputs: int, arena: int):
    """A function inputs -> outputs backed by TFLite Micro with an ``arena``-byte arena."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena)

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        for i, value in enumerate(inputs):
            interpreter.set_input(value, i)
        interpreter.invoke()
        return [np.array(interpreter.get_output(i)) for i in range(n_outputs)]

    return run


def run_here(runtime: str, data: bytes, trials: int = 2, seed: int = 0) -> dict:
    """Run ``data`` ``trials`` times on random inputs in this process.

    Returns ``ok`` (ran and every output is finite), ``nonconstant`` (some
    output has two distinct values, or differs between trials) and
    ``error``.  May abort the process for TFLite Micro: use ``run_in_child``.
    """
    info = describe(data)
    arena = 2 * info["activation_bytes_upper_bound"] + (4 << 20)
    rng = np.random.default_rng(seed)
    try:
        if runtime == "litert":
            run = _litert_runner(data)
        elif runtime == "tflm":
            run = _tflm_runner(data, len(info["outputs"]), arena)
        else:
            raise ValueError(f"unknown runtime {runtime!r}")
        results = [run([_random_input(t, rng) for t in info["inputs"]]) for _ in range(trials)]
    except Exception as err:  # any runtime failure is the check's answer, reported as text
        return {"ok": False, "nonconstant": False, "error": f"{type(err).__name__}: {err}"[:300]}
    outputs = [o for trial in results for o in trial]
    finite = all(np.all(np.isfinite(o)) for o in outputs if o.dtype.kind == "f")
    varied = any(np.unique(o).size > 1 for o in outputs) or any(
        not np.array_equal(a, b) for a, b in zip(results[0], results[-1])
    )
    return {"ok": bool(finite), "nonconstant": bool(varied), "error": None if finite else "non-finite output"}


def run_in_child(runtime: str, path: Path, timeout: float = 600.0) -> dict:
    """``run_here`` in a fresh Python process, so an abort() only fails the check."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.models.modelcheck", runtime, str(Path(path).resolve())],
            capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "nonconstant": False, "error": f"timed out after {timeout:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        result = {"ok": False, "nonconstant": False,
                  "error": f"child exited with {proc.returncode} {tail[0][:200]}".strip()}
    else:
        result = json.loads(lines[-1])
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def check_all(path: Path) -> dict[str, dict]:
    """``run_in_child`` for every runtime in ``RUNTIMES``."""
    return {runtime: run_in_child(runtime, path) for runtime in RUNTIMES}


def runs_in(results: dict[str, dict]) -> list[str]:
    """Names of the runtimes whose check passed."""
    return [name for name, result in results.items() if result["ok"]]


def main(argv: list[str]) -> int:
    """Child entry point: ``RUNTIME PATH`` -> one JSON line."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    runtime, path = argv
    print(json.dumps(run_here(runtime, Path(path).read_bytes())), flush=True)
    return 0


def recheck(out: Path, manifest: dict[str, dict]) -> list[str]:
    """Re-run the committed files and compare bytes and runtime results with ``manifest``."""
    found = []
    for name, entry in manifest.items():
        path = out / name
        if not path.exists():
            found.append(f"{name}: missing")
            continue
        if describe(path.read_bytes())["sha256"] != entry["sha256"]:
            found.append(f"{name}: bytes differ from the manifest")
        runs = runs_in(check_all(path))
        if runs != entry["runs_in"]:
            found.append(f"{name}: runs in {runs}, manifest says {entry['runs_in']}")
    return found


def checked(path: Path, expect) -> dict:
    """A manifest entry's facts about one file: its structure, its runtime
    results (no timings, so reruns are stable) and the runtimes it must run in."""
    checks = {name: {k: v for k, v in r.items() if k != "seconds"} for name, r in check_all(path).items()}
    return {**describe(path.read_bytes()), "runs_in": runs_in(checks), "checks": checks,
            "expected_runtimes": list(expect)}


def problems(name: str, entry: dict) -> list[str]:
    """What is wrong with a file: an expected runtime fails or gives constant outputs."""
    found = []
    for runtime in entry["expected_runtimes"]:
        result = entry["checks"][runtime]
        if not result["ok"]:
            found.append(f"{name}: {runtime} failed: {result['error']}")
        elif not result["nonconstant"]:
            found.append(f"{name}: {runtime} gives constant outputs")
    return found


def only(items: list, stems: str | None) -> list:
    """The items (each with a ``stem``) named in the comma-separated ``stems``; all of them for None."""
    if not stems:
        return items
    wanted = set(stems.split(","))
    unknown = wanted - {item.stem for item in items}
    if unknown:
        raise SystemExit(f"unknown model(s): {', '.join(sorted(unknown))}")
    return [item for item in items if item.stem in wanted]



def manifest_parser(description: str, only: str) -> argparse.ArgumentParser:
    """The options of a generator that keeps a manifest: ``--out``, ``--check`` and ``--only``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data",
                        help="output folder (default: tests/data/)")
    parser.add_argument("--check", action="store_true", help="only re-verify existing files against the manifest")
    parser.add_argument("--only", metavar="STEM[,STEM]", help=f"rebuild only these {only}")
    return parser


def manifest_main(index: Path, check: bool, build: Callable[[dict[str, dict]], dict[str, dict]],
                  print_table: Callable[[dict[str, dict]], None]) -> int:
    """Build (``build`` makes the chosen files and returns ``manifest`` updated with
    them) or re-verify (``check``) the files of the manifest ``index``; 1 on any problem."""
    manifest = json.loads(index.read_text()) if index.exists() else {}
    start = time.perf_counter()
    if check:
        found = recheck(index.parent, manifest)
    else:
        index.parent.mkdir(parents=True, exist_ok=True)
        manifest = build(manifest)
        index.write_text(json.dumps(manifest, indent=1) + "\n")
        found = [p for name, e in manifest.items() for p in problems(name, e)]
    print_table(manifest)
    print(f"done in {time.perf_counter() - start:.0f} s")
    for line in found:
        print("PROBLEM:", line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
