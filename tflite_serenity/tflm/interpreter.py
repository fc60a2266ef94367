"""Run a model in TensorFlow Lite for Microcontrollers, in a child process.

TFLite Micro runs in a separate Python process because some of its kernels call
``abort()`` and a too small arena can crash its allocator: either would take
the caller down with it. The child reports the arena use that TFLite Micro's
recording allocator prints (``print_allocations``) to the C-level stderr.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tflite_serenity.errors import RuntimeUnavailableError
from tflite_serenity.model.signature import read_io
from tflite_serenity.model.signature import random_inputs

#: Arena sizes tried in turn when the caller gives none: the first is enough
#: for most microcontroller models; allocation failures move to the next.
DEFAULT_ARENA_SIZES: tuple[int, ...] = (16 << 20, 64 << 20, 256 << 20, 1 << 30)

_CHILD = Path(__file__).with_name("_child.py")
_ALLOCATION = re.compile(
    r"\[RecordingMicroAllocator\] Arena allocation (total|head|tail) (\d+) bytes"
)
_ATTEMPT = re.compile(r"^serenity-tflm: arena (\d+) bytes$", re.MULTILINE)
_LOG_LIMIT = 64 * 1024
_DETAIL_LINES = 8
_SAID = "; TFLite Micro said: "
_SOURCE_PREFIX = re.compile(r"^\S+\.(?:cc|cpp|c|h)(?::\d+)?\s+")
_NODE_FAILED = re.compile(r"^Node (\S+) \(number (\d+)\) failed to (\w+)")
_REASON_LIMIT = 240


@dataclass(frozen=True, eq=False)
class TflmRun:
    """What one TFLite Micro run produced.

    Attributes
    ----------
    outputs : list of numpy.ndarray or None
        The model's outputs in order, or None if the model was only allocated
        or the run failed.
    total_bytes, head_bytes, tail_bytes : int or None
        Arena use reported by TFLite Micro's recording allocator: ``head`` is
        the planned (non-persistent) tensor area, ``tail`` the persistent data
        of the interpreter and kernels, ``total`` their sum. None if
        allocation never succeeded. ``total`` is a lower bound on the
        ``arena_size`` that works, equal to it when the head dominates; while
        preparing, kernels take temporary memory that can exceed a small head
        (sine_float: total 1536, needs 1936; a tiny int8 transformer: total
        10336, needs 15088).
    error : str or None
        Why the run failed (load or allocation failure, kernel error, signal,
        timeout), or None on success.
    arena_size : int or None
        The arena the interpreter was last built with (None if unknown).
    log : str
        What TFLite Micro printed (the last 64 KiB), for diagnosis.
    """

    outputs: list[np.ndarray] | None
    total_bytes: int | None
    head_bytes: int | None
    tail_bytes: int | None
    error: str | None
    arena_size: int | None = None
    log: str = ""

    @property
    def ok(self) -> bool:
        """True when the run finished without error."""
        return self.error is None


def run_tflm(
    model: bytes,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    arena_size: int | None = None,
    timeout: float = 120,
) -> TflmRun:
    """Run subgraph 0 of a model once in TFLite Micro, in a child process.

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    inputs : sequence of numpy.ndarray, optional
        One array per model input, in order, with the input's exact dtype and
        shape. Default: ``random_inputs(model, seed=0)``.
    arena_size : int, optional
        Tensor arena in bytes. Default: 16 MiB, then 64 MiB, 256 MiB and 1 GiB
        while allocation fails, so the reported sizes are the real need.
    timeout : float, optional
        Seconds before the child is killed and the run reported as failed.

    Returns
    -------
    TflmRun
        Outputs and arena sizes; failures of the runtime (including a crash of
        the child) are in ``error``, not raised.

    Raises
    ------
    RuntimeUnavailableError
        If the ``tflite-micro`` package is not installed.
    ModelFormatError
        If the bytes are not a readable TFLite model.
    ValueError
        If the number of inputs does not match the model.

    Examples
    --------
    >>> import pathlib, tflite_micro
    >>> path = pathlib.Path(tflite_micro.__file__).parent / "python/tflite_micro/sine_float.tflite"
    >>> run = run_tflm(path.read_bytes())
    >>> run.error is None, run.total_bytes >= run.head_bytes > 0
    (True, True)
    """
    if inputs is None:
        inputs = random_inputs(model, seed=0)
    run, _ = run_tflm_trials(model, [inputs], arena_size=arena_size, timeout=timeout)
    return run


def measure_tflm_arena(
    model: bytes, *, arena_size: int | None = None, timeout: float = 120
) -> TflmRun:
    """Build a TFLite Micro interpreter for the model and report its arena use.

    Nothing is invoked, so ``outputs`` is None; the sizes are final after
    allocation (TFLite Micro allocates everything while preparing).

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    arena_size, timeout
        As for :func:`run_tflm`.

    Returns
    -------
    TflmRun

    Raises
    ------
    RuntimeUnavailableError, ModelFormatError
        As for :func:`run_tflm`.
    """
    run, _ = run_tflm_trials(model, [], arena_size=arena_size, timeout=timeout)
    return run


def run_tflm_trials(
    model: bytes,
    input_sets: Sequence[Sequence[np.ndarray]],
    *,
    arena_size: int | None = None,
    timeout: float = 120,
) -> tuple[TflmRun, list[list[np.ndarray]] | None]:
    """Run a model on several input sets in one child process.

    The interpreter is reset between sets, so each run is independent. With no
    input set the model is only allocated.

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    input_sets : sequence of sequence of numpy.ndarray
        One list of input arrays per run.
    arena_size, timeout
        As for :func:`run_tflm`; the timeout covers all sets.

    Returns
    -------
    run : TflmRun
        Arena sizes, error, and the outputs of the first set.
    outputs : list of list of numpy.ndarray, or None
        The outputs of every set, or None if the run failed.

    Raises
    ------
    RuntimeUnavailableError, ModelFormatError, ValueError
        As for :func:`run_tflm`.
    """
    if importlib.util.find_spec("tflite_micro") is None:
        raise RuntimeUnavailableError("TFLite Micro is not installed: pip install tflite-micro")
    run, outputs, _ = _run_child(model, input_sets, arena_size=arena_size, timeout=timeout)
    return run, outputs


@dataclass(frozen=True, eq=False)
class TflmArenaSearch:
    """The smallest arena TFLite Micro works with, found by trying sizes.

    Attributes
    ----------
    smallest : int or None
        The smallest ``arena_size`` (bytes) with which the interpreter
        allocates, and invokes when ``invoked``; every larger size works
        too. None if the model never allocated.
    invoked : bool
        Whether ``smallest`` was checked by invoking the model, not only by
        allocating it. False when invoking was not asked for or failed at
        every size (``invoke_error`` says why).
    total_bytes, head_bytes, tail_bytes : int or None
        What TFLite Micro's recording allocator reported with a large arena;
        ``total_bytes`` is a lower bound of ``smallest``, short of it when
        kernels' temporary memory while preparing exceeds a small head.
    probes : int
        Arena sizes tried.
    error : str or None
        Why no size could be found, or None.
    invoke_error : str or None
        Why invoking failed even with a large arena (the model allocates
        but does not run in TFLite Micro), or None.
    log : str
        What TFLite Micro printed (the last 64 KiB).
    """

    smallest: int | None
    invoked: bool
    total_bytes: int | None
    head_bytes: int | None
    tail_bytes: int | None
    probes: int
    error: str | None
    invoke_error: str | None = None
    log: str = ""


def smallest_tflm_arena(
    model: bytes,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    invoke: bool = True,
    timeout: float = 300,
) -> TflmArenaSearch:
    """Find the smallest ``arena_size`` with which TFLite Micro runs a model.

    One child process allocates the model with a large arena (reading the
    sizes TFLite Micro reports), invokes it once, then tries arena sizes
    around the reported total and bisects to the byte, each try in a forked
    process so that a kernel crashing on a too small arena costs only that
    try. First on allocation alone, then invoking at the size found (and
    bisecting upwards in the rare case invoking needs more).

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    inputs : sequence of numpy.ndarray, optional
        Inputs for invoking. Default: ``random_inputs(model, seed=0)``.
    invoke : bool, default True
        Require the model to invoke at the size found, not only to allocate.
    timeout : float, default 300
        Seconds before the child is killed and the search reported as failed.

    Returns
    -------
    TflmArenaSearch
        Failures of the runtime are in ``error``, not raised.

    Raises
    ------
    RuntimeUnavailableError, ModelFormatError, ValueError
        As for :func:`run_tflm`.

    Examples
    --------
    >>> import pathlib, tflite_micro
    >>> path = pathlib.Path(tflite_micro.__file__).parent / "python/tflite_micro/sine_float.tflite"
    >>> found = smallest_tflm_arena(path.read_bytes())
    >>> found.invoked, found.smallest >= found.total_bytes
    (True, True)
    """
    if importlib.util.find_spec("tflite_micro") is None:
        raise RuntimeUnavailableError("TFLite Micro is not installed: pip install tflite-micro")
    input_sets = []
    if invoke:
        input_sets = [random_inputs(model, seed=0) if inputs is None else inputs]
    run, _, result = _run_child(model, input_sets, arena_size=None, timeout=timeout,
                                search={"invoke": invoke})
    found = (result or {}).get("search") or {}
    error = run.error
    if error is None and not found:
        error = "TFLite Micro child ended without a search result"
    return TflmArenaSearch(
        smallest=found.get("smallest") if error is None else None,
        invoked=bool(found.get("invoked")),
        total_bytes=run.total_bytes,
        head_bytes=run.head_bytes,
        tail_bytes=run.tail_bytes,
        probes=int(found.get("probes", 0)),
        error=error,
        invoke_error=found.get("invoke_error"),
        log=run.log,
    )


def _run_child(
    model: bytes,
    input_sets: Sequence[Sequence[np.ndarray]],
    *,
    arena_size: int | None,
    timeout: float,
    search: dict | None = None,
) -> tuple[TflmRun, list[list[np.ndarray]] | None, dict | None]:
    """Run the child on a request; the run, every set's outputs, and the raw result."""
    input_specs, output_specs = read_io(model)
    for inputs in input_sets:
        if len(inputs) != len(input_specs):
            raise ValueError(f"the model has {len(input_specs)} inputs, {len(inputs)} were given")
    sizes = list(DEFAULT_ARENA_SIZES) if arena_size is None else [int(arena_size)]
    request = {
        "arena_sizes": sizes,
        "n_outputs": len(output_specs),
        "n_sets": len(input_sets),
        "n_inputs": len(input_specs),
    }
    if search is not None:
        request["search"] = search
    with tempfile.TemporaryDirectory(prefix="serenity-tflm-") as tmp:
        work = Path(tmp)
        (work / "model.tflite").write_bytes(bytes(model))
        (work / "request.json").write_text(json.dumps(request))
        feed = {
            f"s{s}_i{i}": np.asarray(x)
            for s, inputs in enumerate(input_sets)
            for i, x in enumerate(inputs)
        }
        np.savez(work / "inputs.npz", **feed)
        error = _spawn(work, timeout)
        log = (work / "log.txt").read_bytes().decode("utf-8", errors="replace")
        result = _read_json(work / "result.json")
        if error is None and result is not None:
            error = result["error"]
        elif error is None:
            error = "TFLite Micro child ended without a result"
        outputs = None
        if error is None:
            with np.load(work / "outputs.npz") as saved:
                outputs = [
                    [saved[f"s{s}_o{o}"] for o in range(len(output_specs))]
                    for s in range(len(input_sets))
                ]
    sizes_seen = _allocations(log)
    attempts = [int(n) for n in _ATTEMPT.findall(log)]
    run = TflmRun(
        outputs=outputs[0] if outputs else None,
        total_bytes=sizes_seen.get("total"),
        head_bytes=sizes_seen.get("head"),
        tail_bytes=sizes_seen.get("tail"),
        error=None if error is None else _with_detail(error, log),
        arena_size=attempts[-1] if attempts else None,
        log=log[-_LOG_LIMIT:],
    )
    return run, outputs, result


def _spawn(work: Path, timeout: float) -> str | None:
    """Run the child; return an error for a timeout, a signal or a bad exit."""
    with open(work / "log.txt", "wb") as log:
        try:
            proc = subprocess.run(
                [sys.executable, str(_CHILD), str(work)],
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"TFLite Micro timed out after {timeout:g} s"
    code = proc.returncode
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        verb = "aborted" if -code == signal.SIGABRT else "crashed"
        return f"TFLite Micro {verb} (signal {-code}: {name})"
    if code != 0:
        return f"TFLite Micro child exited with status {code}"
    return None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _allocations(log: str) -> dict[str, int]:
    """The last reported total, head and tail from ``print_allocations``."""
    return {kind: int(n) for kind, n in _ALLOCATION.findall(log)}


def _with_detail(error: str, log: str) -> str:
    """Append the last runtime messages, which say what failed and where."""
    lines = [
        line.strip()
        for line in log.splitlines()
        if line.strip()
        and not line.startswith("[RecordingMicroAllocator]")
        and not line.startswith("serenity-tflm:")
    ]
    if not lines:
        return error
    return f"{error}{_SAID}" + " | ".join(lines[-_DETAIL_LINES:])


def tflm_reason(error: str, model: bytes | None = None) -> str:
    """Why TFLite Micro failed, in its own words, shortened to one line.

    ``error`` is a run's error (:attr:`TflmRun.error`,
    :attr:`TflmArenaSearch.error`). The operator that failed comes first, as
    ``DEQUANTIZE (operator 0) failed to prepare``, followed by what TFLite
    Micro printed before (source locations dropped). TFLite Micro does not
    name the custom operator it lacks a kernel for; given the ``model``,
    its custom operators are named.

    Examples
    --------
    >>> tflm_reason("RuntimeError: TFLM failed to allocate tensors; TFLite Micro said: "
    ...             "Input type: FLOAT32 with filter type: INT8 not supported. | "
    ...             "Node FULLY_CONNECTED (number 6) failed to prepare with status 1")
    'FULLY_CONNECTED (operator 6) failed to prepare: Input type: FLOAT32 with filter type: INT8 not supported'
    """
    head, _, said = error.partition(_SAID)
    messages, node = [], None
    for line in said.split(" | ") if said else []:
        line = _SOURCE_PREFIX.sub("", line.strip()).rstrip(".")
        failed = _NODE_FAILED.match(line)
        if failed:
            node = f"{failed.group(1)} (operator {failed.group(2)}) failed to {failed.group(3)}"
            break  # what follows is the interpreter giving up
        if line and line not in messages:
            messages.append(line)
    detail = "; ".join(messages[-2:])
    if node:
        reason = f"{node}: {detail}" if detail else node
    else:
        reason = detail or head.strip()
    if model is not None and "op code CUSTOM" in reason:
        custom = _custom_operators(model)
        if custom:
            reason += f" (custom operator{'s' if len(custom) > 1 else ''} in the model: {', '.join(custom)})"
    return reason if len(reason) <= _REASON_LIMIT else reason[:_REASON_LIMIT - 1].rstrip() + "…"


def _custom_operators(model: bytes) -> list[str]:
    """The custom codes among the model's operator codes, in their order."""
    from tflite_serenity.errors import SerenityError
    from tflite_serenity.model import read_model
    from tflite_serenity.model.ops import BuiltinOperator, builtin_code

    try:
        tree = read_model(model)
    except SerenityError:
        return []
    names = []
    for code in tree.operatorCodes or []:
        if builtin_code(code) == BuiltinOperator.CUSTOM:
            name = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
            if name not in names:
                names.append(name)
    return names
