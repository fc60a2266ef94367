"""The overlap rule in the real TFLite Micro interpreter.

Each case is a one-operator model from the TFLite converter (float32 and
full int8). Its offline plan pins the output exactly the rule's shift from
the input (:attr:`Shifts.below`, the most overlap the rule allows); the
output must be bit-identical to the unplanned model's. The same model with
one output element, and with one output row, more overlap must come out
wrong on some cases: the test would catch a rule one step too generous.
All runs of the module share one TFLite Micro child process.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tflite_micro")
pytest.importorskip("tensorflow")

from tests.arena.overlap_cases import (  # noqa: E402
    Case, inputs_for, make_case, only_overlaps, output_shape, overlapped, run_batch)

NAMED = [
    Case("conv", True, (1, 7, 6, 3), kernel=3, channels=4),
    Case("conv", False, (1, 7, 6, 3), kernel=3, channels=4),
    Case("conv", True, (1, 6, 5, 4), kernel=1, channels=4),
    Case("conv", False, (1, 8, 7, 3), kernel=3, stride=2, channels=5),
    Case("conv", True, (1, 8, 7, 3), kernel=3, stride=2, padding="VALID", channels=5),
    Case("conv", True, (2, 7, 6, 3), kernel=3, dilation=2, channels=4),
    Case("conv", False, (1, 9, 8, 2), kernel=3, dilation=2, padding="VALID", channels=3),
    Case("depthwise", True, (1, 7, 6, 3), kernel=3, channels=1),
    Case("depthwise", False, (1, 8, 6, 3), kernel=3, stride=2, channels=2),
    Case("depthwise", True, (1, 8, 7, 4), kernel=3, dilation=2, padding="VALID", channels=1),
    Case("avgpool", True, (1, 7, 6, 3), kernel=2, stride=2),
    Case("avgpool", False, (1, 7, 6, 3), kernel=3, stride=1),
    Case("maxpool", True, (1, 7, 6, 3), kernel=3, stride=2, padding="VALID"),
    Case("maxpool", False, (1, 7, 6, 3), kernel=3, stride=1),
    Case("add", True, (1, 5, 6, 3), other=(1, 5, 6, 3)),
    Case("add", False, (1, 5, 6, 3), other=(1, 1, 1, 3)),
    Case("mul", True, (1, 5, 6, 3), other=(1, 5, 1, 3)),
    Case("mul", False, (1, 5, 6, 3), other=(1, 5, 6, 3)),
    Case("sub", True, (1, 5, 6, 3), other=(1, 5, 6, 3)),
    Case("sub", False, (1, 5, 6, 3), other=(1, 1, 6, 1)),
    Case("pad", True, (1, 6, 5, 3), kernel=1, stride=1, channels=1, dilation=1),
    Case("pad", False, (1, 6, 5, 3), kernel=0, stride=2, channels=1, dilation=0),
    Case("pad", True, (2, 5, 5, 2), kernel=2, stride=0, channels=0, dilation=3),
    Case("slice", True, (1, 9, 4, 2), kernel=1, stride=0, channels=0, dilation=2),
    Case("slice", True, (1, 10, 4, 3), kernel=2, stride=1, channels=0, dilation=3),
    Case("slice", False, (1, 9, 5, 3), kernel=0, stride=3, channels=1, dilation=2),
    Case("slice", False, (2, 8, 4, 3), kernel=1, stride=1, channels=2, dilation=2),
    Case("unitslice", True, (1, 9, 4, 2), kernel=1, stride=0, channels=0),
    Case("unitslice", True, (1, 10, 4, 3), kernel=2, stride=1, channels=1),
    Case("unitslice", False, (1, 9, 5, 3), kernel=0, stride=3, channels=1),
    Case("unitslice", False, (2, 8, 4, 3), kernel=3, stride=1, channels=0),
    Case("fc", True, (2, 12), channels=5),
    Case("fc", False, (1, 12), channels=5),
]


def random_cases(seed: int, count: int) -> list[Case]:
    """Seeded, bounded random cases over operators, types, shapes, strides,
    padding and dilation (dilation only with stride 1, as TensorFlow asks)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kind = ["conv", "conv", "depthwise", "depthwise", "avgpool", "maxpool", "add", "mul", "sub"][rng.integers(9)]
        int8 = bool(rng.integers(2))
        k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        dilation = int(rng.integers(1, 3)) if stride == 1 and kind in ("conv", "depthwise") else 1
        span = (k - 1) * dilation + 1
        shape = (int(rng.integers(1, 3)), int(rng.integers(span, 9)), int(rng.integers(span, 9)),
                 int(rng.integers(1, 5)))
        padding = ["SAME", "VALID"][rng.integers(2)]
        if kind in ("add", "sub", "mul"):
            other = tuple(d if rng.random() < 0.7 else 1 for d in shape)
            cases.append(Case(kind, int8, shape, other=other))
        elif kind == "conv":
            cases.append(Case(kind, int8, shape, k, stride, padding, dilation, int(rng.integers(1, 6))))
        elif kind == "depthwise":
            cases.append(Case(kind, int8, shape, k, stride, padding, dilation, int(rng.integers(1, 3))))
        else:
            cases.append(Case(kind, int8, shape, k, stride, padding))
    return cases


RANDOM = random_cases(seed=20, count=40)


def _row(out_bytes: int, shape) -> int:
    """Bytes of one output row (H axis of a 4-D map, else the last axis)."""
    return out_bytes // (shape[0] * shape[1]) if len(shape) == 4 else out_bytes // shape[0]


@pytest.fixture(scope="module")
def runs():
    """label -> list of (what, tensor, shift, identical) over every case."""
    jobs, meta = [], []
    for case in NAMED + RANDOM:
        model = make_case(case)
        x = inputs_for(model)
        jobs.append((model, x))
        meta.append((case, "unplanned", -1, 0))
        unit = 1 if case.int8 else 4
        for ov in only_overlaps(model):
            s = ov.shifts
            jobs.append((overlapped(model, ov.tensor, s.below), x))
            meta.append((case, "rule", ov.tensor, s.below))
            for what, more in (("element more", unit), ("row more", _row(s.output_bytes, output_shape(model)))):
                if s.below + more < s.above:  # unsafe by the rule: should show
                    jobs.append((overlapped(model, ov.tensor, s.below + more), x))
                    meta.append((case, what, ov.tensor, s.below + more))
    outputs = run_batch(jobs)
    table: dict[str, list] = {}
    base = None
    for (case, what, tensor, shift), out in zip(meta, outputs):
        if what == "unplanned":
            assert isinstance(out, np.ndarray), f"{case.label()}: {out}"
            base = out
            table[case.label()] = []
            continue
        same = isinstance(out, np.ndarray) and out.dtype == base.dtype and np.array_equal(out, base)
        table[case.label()].append((what, tensor, shift, same))
    return table


@pytest.mark.parametrize("case", NAMED, ids=Case.label)
def test_output_at_the_rule_shift_is_bit_identical_in_tflite_micro(runs, case):
    rows = [r for r in runs[case.label()] if r[0] == "rule"]
    assert rows, "the rule gave no overlap for this operator"
    assert all(r[3] for r in rows), rows


def test_random_cases_are_bit_identical_at_the_rule_shift_in_tflite_micro(runs):
    bad = [(c.label(), r) for c in RANDOM for r in runs[c.label()] if r[0] == "rule" and not r[3]]
    checked = sum(1 for c in RANDOM for r in runs[c.label()] if r[0] == "rule")
    assert checked >= len(RANDOM) and not bad, bad


@pytest.mark.parametrize("what", ["element more", "row more"])
def test_overlapping_more_than_the_rule_corrupts_outputs(runs, what):
    tried = [(label, r) for label, rows in runs.items() for r in rows if r[0] == what]
    wrong = [t for t in tried if not t[1][3]]
    # One element more spoils one input element, which a kernel may not need
    # to change any output (a max it does not pick, a rounding it survives);
    # most cases must still show it.
    assert len(tried) >= 30 and len(wrong) >= len(tried) // 2, (len(wrong), len(tried))
