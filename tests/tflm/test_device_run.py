"""The Cortex-M figures against the emulated device run (docs/device.md).

``tests/data/device_run.json`` holds what an emulated Cortex-M4 (CMSIS-NN's
DSP kernels) and Cortex-M55 (its MVE kernels) measured for the committed
int8 models and their default outputs: the smallest working arena and the
head. Each row names its model by sha256, so a row whose model is not here
(a zoo model, or an output our code no longer writes) is left out; each
check covers at least the committed inputs.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import pytest

from tflite_serenity import optimize
from tflite_serenity.model import read_model
from tflite_serenity.model_version import graphs_of
from tflite_serenity.options import Target
from tflite_serenity.tflm import estimate_tflm_arena, target_arena, tflm_arena_size
from tflite_serenity.tflm.simulate import stored_head
from tflite_serenity.tflm.target_arena import TARGET_KERNELS

DATA = Path(__file__).resolve().parents[1] / "data"
ZOO = Path(__file__).resolve().parents[2] / ".zoo"
RUN = json.loads((DATA / "device_run.json").read_text())
# float32 and int16 models, measured the same way after tflm/device_arena.py was written
FLOAT_INT16 = json.loads((DATA / "device_run_float_int16.json").read_text())
LIBRARY = {core: TARGET_KERNELS[core][0] for core in ("cortex-m4", "cortex-m55")}
# The simulation errs high where a kernel's request depends on what we do not
# read: transformer_tiny's fully connected layers are quantized per channel and
# ask nothing on the device; we count the per-tensor request (128 B).
SIMULATED_HIGH = {("transformer_tiny_int8", "out")}


@lru_cache(maxsize=None)
def _models() -> dict[str, bytes]:
    """The models the table names that are here, by sha256: the committed
    inputs, the zoo's if present, and the default outputs of the committed ones."""
    found = {}
    for row in (*RUN["runs"], *FLOAT_INT16["runs"]):
        if row["variant"] != "in":
            continue
        for folder in (DATA, ZOO):
            path = folder / f"{row['model']}.tflite"
            if path.exists():
                data = path.read_bytes()
                found[hashlib.sha256(data).hexdigest()] = data
                if folder == DATA:
                    out = optimize(data).model
                    found[hashlib.sha256(out).hexdigest()] = out
                break
    return found


def _rows(small_only: bool = False, table=RUN):
    models = _models()
    for row in table["runs"]:
        data = models.get(row["sha256"])
        if data is not None and (not small_only or len(data) < 200_000):
            yield row, data


def test_the_table_covers_every_committed_input_on_both_cores():
    inputs = {(r["model"], r["core"]) for r, _ in _rows() if r["variant"] == "in"}
    committed = {p.stem for p in DATA.glob("*_int8.tflite") if p.stem in {r["model"] for r in RUN["runs"]}}
    assert committed and inputs >= {(m, c) for m in committed for c in LIBRARY}


def _inputs() -> int:
    """Rows of committed inputs: every check covers at least these."""
    return sum(1 for row, _ in _rows() if row["variant"] == "in")


def test_simulated_head_with_cmsis_nn_scratch_is_the_devices_head():
    checked = 0
    for row, data in _rows():
        if row["head"] is None:
            continue
        tree = read_model(data)
        simulated = stored_head(tree, graphs_of(tree), LIBRARY[row["core"]])
        key = (row["model"], row["variant"])
        assert simulated >= row["head"] if key in SIMULATED_HIGH else simulated == row["head"], (row, simulated)
        checked += 1
    assert checked >= _inputs() >= 34


def test_cortex_m_arena_size_is_never_below_the_devices_smallest_arena():
    # the figure --emit-header writes, with the host measured (or estimated without tflite-micro)
    checked = 0
    for row, data in _rows(small_only=True):
        size = tflm_arena_size(data, fallback=True)
        for target in (row["core"], "cortex-m"):
            assert target_arena(size, data, target).arena_size >= row["smallest_arena"], (row, target)
        checked += 1
    assert checked >= _inputs() >= 34


def test_cortex_m_arena_size_from_the_estimate_is_never_below_the_devices_smallest_arena():
    checked = 0
    for row, data in _rows():
        size = estimate_tflm_arena(data)
        assert target_arena(size, data, row["core"]).arena_size >= row["smallest_arena"], row
        checked += 1
    assert checked >= _inputs() >= 34


def test_cortex_m_arena_size_is_within_2_percent_of_the_devices_smallest_arena():
    """Issue 19: never below the device's smallest working arena, and within
    2% of it. Worst case on the device run (132 runs, docs/device.md):
    rewrite_dense_int8 on the M4, 2,544 B for 2,516 B (1.011; the margin is
    16 of the 28 B); median 1.003 on both cores."""
    checked = 0
    for row, data in _rows():
        arena = target_arena(estimate_tflm_arena(data), data, row["core"]).arena_size
        assert row["smallest_arena"] <= arena <= 1.02 * row["smallest_arena"], (row, arena)
        checked += 1
    assert checked >= _inputs() >= 34


def test_replayed_need_is_the_devices_smallest_arena_up_to_alignment():
    # the replay of TFLite Micro's allocations before the margin: the smallest
    # multiple of 16 that works, where the device's bisection went byte by byte
    # (M55 darts_int8's output: 36 B above, the most)
    checked = 0
    for row, data in _rows():
        needed = target_arena(estimate_tflm_arena(data), data, row["core"]).needed
        assert 0 <= needed - row["smallest_arena"] <= 48, (row, needed)
        checked += 1
    assert checked >= _inputs() >= 34


def test_float_and_int16_models_get_the_same_bounds():
    """Float32 and int16 models (80 runs, none read to write the replay's
    int8 tables; the int16 ones showed CMSIS-NN's int16 convolution and
    average-pool scratch, since modelled in ``tflm/scratch.py``): the device's
    head simulated to the byte, the replayed need within 12 B above the
    smallest arena, the figure at most 1.015 times it (rewrite_dense_float)."""
    rows = list(_rows(table=FLOAT_INT16))
    assert len(rows) == len(FLOAT_INT16["runs"]) >= 80
    for row, data in rows:
        tree = read_model(data)
        assert stored_head(tree, graphs_of(tree), LIBRARY[row["core"]]) == row["head"], row
        t = target_arena(estimate_tflm_arena(data), data, row["core"])
        assert 0 <= t.needed - row["smallest_arena"] <= 48, (row, t.needed)
        assert row["smallest_arena"] <= t.arena_size <= 1.02 * row["smallest_arena"], (row, t.arena_size)


def test_no_default_output_needed_more_than_its_input_on_the_device():
    smallest = {(r["model"], r["variant"], r["core"]): r["smallest_arena"] for r in RUN["runs"]}
    pairs = [(m, c) for m, v, c in smallest if v == "in" and (m, "out", c) in smallest]
    assert len(pairs) >= 60
    assert all(smallest[(m, "out", c)] <= smallest[(m, "in", c)] for m, c in pairs), [
        (m, c, smallest[(m, "in", c)], smallest[(m, "out", c)]) for m, c in pairs
        if smallest[(m, "out", c)] > smallest[(m, "in", c)]]


def test_every_default_output_computed_the_same_bytes_as_its_input_on_the_device():
    assert all(r["output_equals_input_models"] for r in RUN["runs"])


@pytest.mark.parametrize("name", sorted({r["model"] for r in RUN["runs"] if (DATA / f"{r['model']}.tflite").exists()}))
def test_the_default_output_has_no_larger_head_with_any_kernels(name):
    data = (DATA / f"{name}.tflite").read_bytes()
    before, after = read_model(data), read_model(optimize(data).model)
    for library in ("reference", "cmsis-nn-dsp", "cmsis-nn-mve"):
        assert stored_head(after, graphs_of(after), library) <= stored_head(before, graphs_of(before), library), library


def test_row_strips_that_lose_with_cmsis_nn_are_left_out_and_the_summary_says_so():
    # small_cnn_int8: strips lower the reference head, but on the M55 the depthwise
    # convolution's 4,464 B scratch keeps the head where it was while they add tail
    from tflite_serenity.driver import REWRITE_LOST_NOTE

    result = optimize((DATA / "small_cnn_int8.tflite").read_bytes())
    kinds = {op.kind for g in graphs_of(read_model(result.model)) for op in g.operators}
    assert "STRIDED_SLICE" not in kinds and REWRITE_LOST_NOTE in result.subgraphs[0].note
    # for the M4 alone (its DSP kernels ask for tens of bytes) they pay
    for_the_m4 = optimize((DATA / "small_cnn_int8.tflite").read_bytes(), target=Target.named("cortex-m4"))
    assert "STRIDED_SLICE" in {op.kind for g in graphs_of(read_model(for_the_m4.model)) for op in g.operators}
