"""Real-world model patterns (tests/data/realworld_*, made by scripts/models/make_realworld_models.py):
every promise of the optimizer holds on each, with its default options and on the command line.

For each model: the command exits 0 and writes what ``optimize`` returns; outputs stay
bit-identical in every runtime that runs the input (LiteRT and TFLite Micro, each in a child
process, each compared with itself); TFLite Micro's measured arena and the peak without shared
outputs never grow; a second run changes nothing; and every subgraph is optimal or says why not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from tflite_serenity import memory, optimize
from tflite_serenity.cli import main
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tests.models import DATA, load, manifest

REALWORLD = json.loads((DATA / "REALWORLD.json").read_text())
MODELS = sorted(REALWORLD) + ["custom_op_float.tflite", "dynamic_float.tflite", "stateful_lstm_float.tflite"]
ROOT = Path(__file__).resolve().parents[2]


def runs_in(name: str) -> list[str]:
    """The runtimes that run the input, as its manifest recorded them."""
    entry = REALWORLD.get(name) or manifest().get(name) or {}
    return entry.get("runs_in", [])


@dataclass(frozen=True)
class Run:
    """One model through the optimizer: by the API, by the command, and again."""

    data: bytes
    out: bytes
    result: object
    exit_code: int
    cli_out: bytes | None
    stderr: str


@lru_cache(maxsize=None)
def run(name: str, tmp: str) -> Run:
    data = load(name)
    result = optimize(data)
    source, target = Path(tmp) / name, Path(tmp) / f"out_{name}"
    source.write_bytes(data)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(source), str(target), "--quiet"])
    return Run(data, result.model, result, code, target.read_bytes() if target.exists() else None, err.getvalue())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("realworld"))


@pytest.fixture(scope="module")
def optimized(folder):
    return lambda name: run(name, folder)


_LITERT_CHILD = """
import json, sys
from pathlib import Path
from tflite_serenity.verify import compare_models
r = compare_models(Path(sys.argv[1]).read_bytes(), Path(sys.argv[2]).read_bytes(), runtime="litert")
print(json.dumps({"bit_identical": r.bit_identical, "describe": r.describe()}))
"""


def compare_litert_in_child(original: bytes, candidate: bytes, folder: Path) -> dict:
    """``compare_models(..., runtime="litert")`` in a child process: LiteRT may crash on real models."""
    a, b = folder / "original.tflite", folder / "candidate.tflite"
    a.write_bytes(original)
    b.write_bytes(candidate)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", _LITERT_CHILD, str(a), str(b)], capture_output=True, text=True,
                          timeout=120, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"bit_identical": False, "describe": f"LiteRT child exited with {proc.returncode}: {proc.stderr[-300:]}"}
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", MODELS)
def test_the_command_exits_0_and_writes_what_optimize_returns(name, optimized):
    r = optimized(name)
    assert r.exit_code == 0, r.stderr
    assert r.cli_out == r.out


@pytest.mark.parametrize("name", MODELS)
def test_outputs_are_bit_identical_in_litert(name, optimized, tmp_path):
    if "litert" not in runs_in(name):
        pytest.skip("the input does not run in LiteRT")
    r = optimized(name)
    if r.out == r.data:
        return  # the same bytes
    found = compare_litert_in_child(r.data, r.out, tmp_path)
    assert found["bit_identical"], found["describe"]


@lru_cache(maxsize=None)
def tflm_comparison(name: str, tmp: str):
    from tflite_serenity.verify import compare_models

    r = run(name, tmp)
    return compare_models(r.data, r.out, runtime="tflm")


@pytest.fixture(scope="module")
def in_tflm(folder):
    return lambda name: (run(name, folder), tflm_comparison(name, folder))


@pytest.mark.parametrize("name", MODELS)
def test_outputs_are_bit_identical_in_tflite_micro(name, in_tflm):
    if "tflm" not in runs_in(name):
        pytest.skip("the input does not run in TFLite Micro")
    r, found = in_tflm(name)
    if r.out == r.data:
        return
    assert found.bit_identical, found.describe()


@pytest.mark.parametrize("name", MODELS)
def test_tflite_micro_arena_never_grows(name, in_tflm):
    if "tflm" not in runs_in(name):
        pytest.skip("the input does not run in TFLite Micro")
    r, found = in_tflm(name)
    if r.out == r.data:
        return
    before, after = found.original_tflm.total_bytes, found.candidate_tflm.total_bytes
    assert after <= before, f"TFLite Micro arena total {before} -> {after} bytes"


@pytest.mark.parametrize("name", MODELS)
def test_peak_without_shared_outputs_never_grows(name, optimized):
    r = optimized(name)
    before = [memory.peak_bytes(g) for g in build_graphs(read_model(r.data))]
    after = [memory.peak_bytes(g) for g in build_graphs(read_model(r.out))]
    assert all(b <= a for a, b in zip(before, after)) and len(before) == len(after), f"{before} -> {after}"


@pytest.mark.parametrize("name", MODELS)
def test_a_second_run_changes_nothing(name, optimized):
    out = optimized(name).out
    again = optimize(out).model
    assert again == out, f"{len(out)} -> {len(again)} bytes"


@pytest.mark.parametrize("name", MODELS)
def test_every_subgraph_is_optimal_or_says_why_not(name, optimized):
    for s in optimized(name).result.subgraphs:
        assert s.optimal or s.note, f"subgraph {s.index}: {s.status}, no note"
