"""The command chooses WHILE-loop row strips where TFLite Micro's whole arena drops (rewrite.loop_search)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tflite_serenity import optimize
from tflite_serenity.cli.optimize import run
from tflite_serenity.model import read_model
from tflite_serenity.model_version import graphs_of
from tflite_serenity.options import Target
from tflite_serenity.rewrite.loop_search import has_our_loops, loop_macs, search_loops
from tflite_serenity.rewrite.strip_search import macs
from tflite_serenity.tflm.simulate import stored_head
from tflite_serenity.tflm.tail import persistent_bytes
from tests.models import DATA, load

ZOO = Path(__file__).resolve().parents[2] / ".zoo"
PREFIX = "loops/loop_prefix_int8.tflite"  # a MobileNetV2-like prefix at 64x64 (make_loop_plan_models)
LOOP_TYPES = {"WHILE", "SLICE", "DYNAMIC_UPDATE_SLICE", "LESS", "PAD"}


def _whole(data: bytes) -> int:
    from tflite_serenity.verify import measure_tflm_arena

    measured = measure_tflm_arena(data)
    assert measured.error is None or not measured.error, measured.error
    return measured.total_bytes


def _cost(model) -> tuple[int, ...]:
    """The whole arena per kernel library of the default target (head simulated, 32-bit tail)."""
    graphs = graphs_of(model)
    tail = sum(persistent_bytes(g, Target().costs) for g in graphs)
    return tuple(stored_head(model, graphs, k) + tail for k in Target().kernels)


def _lower(a, b) -> bool:
    return a[0] < b[0] and all(x <= y for x, y in zip(a, b))


@pytest.fixture(scope="module")
def prefix() -> bytes:
    return load(PREFIX)


@pytest.fixture(scope="module")
def prefix_out(prefix) -> bytes:
    return optimize(prefix).model


def test_the_search_keeps_loops_only_where_they_lower_the_cost(prefix):
    model = read_model(prefix)
    found = search_loops(model, _cost, _lower, allowed_macs=2 * macs(graphs_of(model)[0]))
    assert found is not None and found.loops
    assert _lower(found.cost, _cost(model)) and found.cost == _cost(found.model)
    assert has_our_loops(found.model) and not has_our_loops(model)


def test_the_search_respects_the_multiply_accumulates_allowed(prefix):
    model = read_model(prefix)
    work = macs(graphs_of(model)[0])
    assert search_loops(model, _cost, _lower, allowed_macs=work) is None
    found = search_loops(model, _cost, _lower, allowed_macs=int(work * 1.5))
    assert found is not None and found.macs_before == loop_macs(model, {}) == work
    assert work < found.macs_after <= int(work * 1.5)


def test_the_command_runs_the_prefix_in_loops_that_lower_the_measured_whole_arena(prefix, prefix_out):
    pytest.importorskip("tflite_micro")
    without = optimize(prefix, loops=False).model
    assert has_our_loops(read_model(prefix_out))
    assert _whole(prefix_out) < _whole(without)


@pytest.mark.parametrize("runtime", ["tflm", "litert"])
def test_the_loop_output_is_bit_identical(prefix, prefix_out, runtime):
    from tflite_serenity.verify import compare_models

    comparison = compare_models(prefix, prefix_out, runtime=runtime, trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_a_second_run_hands_the_loop_output_back_unchanged(prefix_out):
    assert optimize(prefix_out).model == prefix_out


def test_no_loops_leaves_them_out(prefix):
    assert not has_our_loops(read_model(optimize(prefix, loops=False).model))


def test_the_summary_says_loops_were_used_and_names_their_operator_types(tmp_path, capsys):
    out = tmp_path / "out.tflite"
    assert run([str(DATA / PREFIX), str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "row strips in 2 WHILE loops" in text
    assert "pins each WHILE loop's carried maps to one offset" in text
    added = next(line for line in text.splitlines() if line.startswith("new operator types:"))
    assert LOOP_TYPES <= set(added.split(": ", 1)[1].split(" (")[0].split(", "))


def test_the_chain_fixture_is_never_above_its_output_without_loops():
    pytest.importorskip("tflite_micro")
    data = load("loop_chain_int8.tflite")
    first, second = optimize(data), optimize(data)
    assert first.model == second.model  # the same bytes every run
    assert _whole(first.model) <= _whole(optimize(data, loops=False).model)


def test_mobilenetv2_224_fits_half_a_mebibyte_bit_identical_and_stays():
    path = ZOO / "mobilenetv2_224_int8.tflite"
    if not path.is_file():
        pytest.skip("the zoo is not made (python -m scripts.models.make_zoo)")
    pytest.importorskip("tflite_micro")
    from tflite_serenity.verify import compare_models

    data = path.read_bytes()
    result = optimize(data)
    assert _whole(result.model) < 512 * 1024
    assert LOOP_TYPES <= set(result.added_operators)
    for runtime in ("tflm", "litert"):
        comparison = compare_models(data, result.model, runtime=runtime, trials=1)
        assert comparison.bit_identical, comparison.describe()
    assert optimize(result.model).model == result.model


def test_the_json_gives_the_loops_and_their_plan(tmp_path, capsys):
    import json

    path = ZOO / "mobilenetv2_224_int8.tflite"
    if not path.is_file():
        pytest.skip("the zoo is not made (python -m scripts.models.make_zoo)")
    assert run([str(path), str(tmp_path / "out.tflite"), "--json", "--quiet"]) == 0
    payload = json.loads(capsys.readouterr().out)
    sub = payload["subgraphs"][0]
    assert payload["arena"]["reason"] == "loop_pins" and len(sub["loops"]) == 3
    before, after = sub["loop_macs"]
    assert before < after <= 2 * before  # --max-recompute 100
