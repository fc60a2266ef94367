"""Compare an original model with a candidate by running both on the same inputs.

The compiler's promise is bit-identical outputs in each real interpreter, so
the comparison is per runtime: original and candidate both in LiteRT, or both
in TFLite Micro. The two runtimes are never compared with each other (their
kernels differ in the last bits, even for float models).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tflite_serenity.errors import SerenityError, VerificationError
from tflite_serenity.model.signature import read_io
from tflite_serenity.model.signature import random_inputs
from tflite_serenity.verify.litert import run_litert_trials
from tflite_serenity.tflm.interpreter import TflmRun, run_tflm_trials

Runtime = Literal["litert", "tflm"]
_RUNTIMES = ("litert", "tflm")


@dataclass(frozen=True)
class OutputDiff:
    """How one output of one trial differs between original and candidate.

    Attributes
    ----------
    trial : int
        Index of the input set (trial ``t`` uses ``random_inputs(seed + t)``).
    index : int
        Output index in the model's output order.
    original_dtype, candidate_dtype : str or None
        Dtype names; None when that model has no output at this index.
    original_shape, candidate_shape : tuple of int or None
        Shapes; None when that model has no output at this index.
    bit_identical : bool
        Same dtype, same shape and the same bytes.
    max_abs_diff : float
        Largest absolute elementwise difference; 0 when bit-identical; ``inf``
        when dtype or shape differ, or where exactly one side is NaN or the
        infinities differ. Two NaNs count as no difference here (but the
        output is still not bit-identical if their bytes differ).
    max_rel_diff : float
        ``max_abs_diff`` divided by the range (max - min) of the original's
        finite values; by the largest finite magnitude when the range is 0;
        by 1 when that is 0 too.
    n_different : int or None
        Number of elements whose bytes differ, None when not comparable.
    """

    trial: int
    index: int
    original_dtype: str | None
    candidate_dtype: str | None
    original_shape: tuple[int, ...] | None
    candidate_shape: tuple[int, ...] | None
    bit_identical: bool
    max_abs_diff: float
    max_rel_diff: float
    n_different: int | None

    @property
    def comparable(self) -> bool:
        """True when both sides have this output with the same dtype and shape."""
        return self.n_different is not None

    def describe(self) -> str:
        """One line saying how this output differs."""
        where = f"output {self.index} (trial {self.trial})"
        if self.original_dtype is None or self.candidate_dtype is None:
            side = "original" if self.original_dtype is None else "candidate"
            return f"{where}: missing from the {side}"
        if not self.comparable:
            return (
                f"{where}: original is {self.original_dtype}{list(self.original_shape)}, "
                f"candidate is {self.candidate_dtype}{list(self.candidate_shape)}"
            )
        if self.bit_identical:
            return f"{where}: bit-identical"
        total = math.prod(self.original_shape)
        return (
            f"{where}: {self.n_different} of {total} elements differ, "
            f"max abs diff {self.max_abs_diff:.6g} (relative {self.max_rel_diff:.3g})"
        )


@dataclass(frozen=True, eq=False)
class Comparison:
    """The result of :func:`compare_models`.

    Attributes
    ----------
    runtime : {"litert", "tflm"}
        The interpreter both models ran in.
    seed, trials : int
        Input sets used: ``random_inputs(original, seed + t)`` for each trial.
    bit_identical : bool
        Both models ran and every output of every trial is bit-identical.
    max_abs_diff, max_rel_diff : float
        Largest over all outputs and trials (``inf`` if a model failed).
    outputs : tuple of OutputDiff
        One entry per trial and output index.
    original_error, candidate_error : str or None
        Why a model could not be run (then ``outputs`` is empty).
    original_tflm, candidate_tflm : TflmRun or None
        With ``runtime="tflm"``, each model's run, with its arena sizes.
    """

    runtime: Runtime
    seed: int
    trials: int
    bit_identical: bool
    max_abs_diff: float
    max_rel_diff: float
    outputs: tuple[OutputDiff, ...]
    original_error: str | None = None
    candidate_error: str | None = None
    original_tflm: TflmRun | None = None
    candidate_tflm: TflmRun | None = None

    @property
    def error(self) -> str | None:
        """The runtime failures, as one message, or None if both models ran."""
        parts = []
        if self.original_error is not None:
            parts.append(f"original: {self.original_error}")
        if self.candidate_error is not None:
            parts.append(f"candidate: {self.candidate_error}")
        return "; ".join(parts) or None

    def describe(self) -> str:
        """A short human-readable verdict, naming what differs."""
        head = f"{self.runtime}, {self.trials} trial(s) from seed {self.seed}"
        if self.error is not None:
            return f"{head}: could not compare ({self.error})"
        if self.bit_identical:
            return f"{head}: bit-identical"
        bad = [d.describe() for d in self.outputs if not d.bit_identical]
        return f"{head}: not bit-identical; " + "; ".join(bad)


def compare_models(
    original: bytes,
    candidate: bytes,
    *,
    runtime: Runtime,
    seed: int = 0,
    trials: int = 2,
    arena_size: int | None = None,
    timeout: float = 120,
) -> Comparison:
    """Run two models on the same random inputs in one runtime and compare outputs.

    Parameters
    ----------
    original, candidate : bytes
        .tflite flatbuffers. Inputs are drawn for the original; the candidate
        must declare the same input dtypes and shapes.
    runtime : {"litert", "tflm"}
        LiteRT reference kernels (in process) or TFLite Micro (child process).
    seed : int, optional
        Trial ``t`` uses ``random_inputs(original, seed + t)``.
    trials : int, optional
        Number of input sets, at least 1.
    arena_size : int, optional
        TFLite Micro arena for both models; default grows as needed.
    timeout : float, optional
        Seconds allowed to each TFLite Micro child.

    Returns
    -------
    Comparison
        Runtime failures of either model are reported in it, not raised.

    Raises
    ------
    RuntimeUnavailableError
        If the runtime is not installed.
    ModelFormatError, UnsupportedModelError
        If the original cannot be read or has inputs random_inputs cannot make.
    ValueError
        For an unknown runtime or ``trials < 1``.
    """
    if runtime not in _RUNTIMES:
        raise ValueError(f"runtime must be one of {_RUNTIMES}, not {runtime!r}")
    if trials < 1:
        raise ValueError(f"trials must be at least 1, not {trials}")
    input_sets = [random_inputs(original, seed + t) for t in range(trials)]
    mismatch = _input_mismatch(original, candidate)
    models = [original] if mismatch else [original, candidate]

    def run(model: bytes) -> _Run:
        return _run(model, runtime, input_sets, arena_size, timeout)

    if runtime == "tflm" and len(models) > 1:
        # Each TFLite Micro run is a child process: let them work side by side.
        with ThreadPoolExecutor(max_workers=len(models)) as pool:
            results = list(pool.map(run, models))
    else:
        results = [run(model) for model in models]
    original_out, original_error, original_run = results[0]
    candidate_out, candidate_error, candidate_run = (None, mismatch, None) if mismatch else results[1]

    diffs: list[OutputDiff] = []
    if original_out is not None and candidate_out is not None:
        for trial, (a_outs, b_outs) in enumerate(zip(original_out, candidate_out)):
            for index in range(max(len(a_outs), len(b_outs))):
                a = a_outs[index] if index < len(a_outs) else None
                b = b_outs[index] if index < len(b_outs) else None
                diffs.append(diff_outputs(a, b, trial=trial, index=index))
    failed = original_error is not None or candidate_error is not None
    return Comparison(
        runtime=runtime,
        seed=seed,
        trials=trials,
        bit_identical=not failed and all(d.bit_identical for d in diffs),
        max_abs_diff=math.inf if failed else max((d.max_abs_diff for d in diffs), default=0.0),
        max_rel_diff=math.inf if failed else max((d.max_rel_diff for d in diffs), default=0.0),
        outputs=tuple(diffs),
        original_error=original_error,
        candidate_error=candidate_error,
        original_tflm=original_run,
        candidate_tflm=candidate_run,
    )


def assert_equivalent(
    original: bytes,
    candidate: bytes,
    *,
    runtime: Runtime,
    tolerance: float | None = None,
    seed: int = 0,
    trials: int = 2,
    arena_size: int | None = None,
    timeout: float = 120,
) -> Comparison:
    """Raise unless the candidate reproduces the original's outputs.

    Parameters
    ----------
    original, candidate : bytes
        .tflite flatbuffers.
    runtime : {"litert", "tflm"}
        The interpreter to check in.
    tolerance : float, optional
        None (default) demands bit-identical outputs. A number allows an
        absolute elementwise difference up to it, in the output's own units
        (quantization steps for integer outputs); dtypes and shapes must
        still match.
    seed, trials, arena_size, timeout
        As for :func:`compare_models`.

    Returns
    -------
    Comparison
        The comparison that passed.

    Raises
    ------
    VerificationError
        If either model fails to run, or the outputs differ beyond the
        tolerance; the message names the outputs that differ.
    RuntimeUnavailableError, ModelFormatError, UnsupportedModelError, ValueError
        As for :func:`compare_models`.
    """
    result = compare_models(
        original,
        candidate,
        runtime=runtime,
        seed=seed,
        trials=trials,
        arena_size=arena_size,
        timeout=timeout,
    )
    if result.error is not None:
        raise VerificationError(f"cannot verify in {runtime}: {result.error}")
    if result.bit_identical:
        return result
    if tolerance is None:
        raise VerificationError(
            f"candidate is not bit-identical to the original: {result.describe()}"
        )
    bad = [d for d in result.outputs if not d.comparable or d.max_abs_diff > tolerance]
    if bad:
        raise VerificationError(
            f"candidate differs from the original beyond tolerance {tolerance:g} in {runtime}: "
            + "; ".join(d.describe() for d in bad)
        )
    return result


def diff_outputs(
    original: np.ndarray | None,
    candidate: np.ndarray | None,
    *,
    trial: int = 0,
    index: int = 0,
) -> OutputDiff:
    """Compare two output arrays byte for byte and numerically.

    Parameters
    ----------
    original, candidate : numpy.ndarray or None
        The two outputs; None for an output a model does not have.
    trial, index : int, optional
        Labels copied into the result.

    Returns
    -------
    OutputDiff

    Examples
    --------
    >>> import numpy as np
    >>> d = diff_outputs(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.5, 4.0]))
    >>> d.bit_identical, d.n_different, d.max_abs_diff, d.max_rel_diff
    (False, 1, 0.5, 0.16666666666666666)
    """
    a = None if original is None else np.ascontiguousarray(original)
    b = None if candidate is None else np.ascontiguousarray(candidate)
    labels = dict(
        trial=trial,
        index=index,
        original_dtype=None if a is None else a.dtype.name,
        candidate_dtype=None if b is None else b.dtype.name,
        original_shape=None if a is None else tuple(a.shape),
        candidate_shape=None if b is None else tuple(b.shape),
    )
    if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape:
        return OutputDiff(
            **labels,
            bit_identical=False,
            max_abs_diff=math.inf,
            max_rel_diff=math.inf,
            n_different=None,
        )
    # One row of raw bytes per element: equal rows are bit-identical elements.
    width = a.dtype.itemsize
    a_bytes = a.reshape(-1).view(np.uint8).reshape(-1, width)
    b_bytes = b.reshape(-1).view(np.uint8).reshape(-1, width)
    same = np.all(a_bytes == b_bytes, axis=1)
    n_different = int(same.size - np.count_nonzero(same))
    if n_different == 0:
        return OutputDiff(
            **labels, bit_identical=True, max_abs_diff=0.0, max_rel_diff=0.0, n_different=0
        )
    max_abs = _max_abs_diff(a.reshape(-1), b.reshape(-1), same)
    return OutputDiff(
        **labels,
        bit_identical=False,
        max_abs_diff=max_abs,
        max_rel_diff=max_abs / _scale(a.reshape(-1)),
        n_different=n_different,
    )


def _max_abs_diff(a: np.ndarray, b: np.ndarray, same: np.ndarray) -> float:
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    x, y = a.astype(wide), b.astype(wide)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(x - y)
    d[same | (np.isnan(x) & np.isnan(y))] = 0.0
    d[~np.isfinite(d)] = math.inf
    return float(d.max())


def _scale(a: np.ndarray) -> float:
    """The original's value range, the yardstick of relative differences."""
    values = np.abs(a) if a.dtype.kind == "c" else a.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size:
        spread = float(finite.max() - finite.min())
        if spread > 0:
            return spread
        peak = float(np.abs(finite).max())
        if peak > 0:
            return peak
    return 1.0


# A model's outputs for every input set, or why it could not run; and its
# TFLite Micro run, with the arena sizes.
_Run = tuple[list[list[np.ndarray]] | None, str | None, TflmRun | None]


def _run(
    model: bytes,
    runtime: Runtime,
    input_sets: Sequence[Sequence[np.ndarray]],
    arena_size: int | None,
    timeout: float,
) -> _Run:
    if runtime == "litert":
        try:
            return run_litert_trials(model, input_sets), None, None
        except VerificationError as err:
            return None, str(err), None
    run, outputs = run_tflm_trials(model, input_sets, arena_size=arena_size, timeout=timeout)
    return outputs, run.error, run


def _input_mismatch(original: bytes, candidate: bytes) -> str | None:
    """Why the candidate cannot take the original's inputs, or None."""
    want, _ = read_io(original)
    try:
        have, _ = read_io(candidate)
    except SerenityError as err:  # a candidate that does not parse is a verdict, not a crash
        return f"cannot read the candidate: {err}"
    if len(want) != len(have):
        return f"the original has {len(want)} inputs, the candidate {len(have)}"
    for i, (w, h) in enumerate(zip(want, have)):
        if (w.dtype, w.shape) != (h.dtype, h.shape):
            return (
                f"input {i} is {w.dtype.name}{list(w.shape)} in the original "
                f"but {h.dtype.name}{list(h.shape)} in the candidate"
            )
    return None
