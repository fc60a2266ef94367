"""The child process that runs TFLite Micro for :mod:`tflite_serenity.tflm.interpreter`.

Run as ``python _child.py WORKDIR``: this file imports nothing from
tflite_serenity, so it starts fast and needs the package neither installed nor
importable. Some TFLite Micro kernels ``abort()`` and a too small arena can
crash the allocator, which is why this runs apart from the caller.

The parent sets file descriptors 1 and 2 to ``WORKDIR/log.txt``, so every
message of the C++ runtime (including ``print_allocations``) lands there, even
when this process dies. Protocol, all inside WORKDIR:

- ``model.tflite``: the model bytes.
- ``request.json``: ``{"arena_sizes": [...], "n_outputs": int, "n_sets": int,
  "n_inputs": int}``. Arena sizes are tried in order while the failure is an
  allocation failure; ``n_sets`` is 0 to allocate without invoking.
- ``inputs.npz``: arrays ``s{set}_i{input}``.
- out: ``outputs.npz`` with arrays ``s{set}_o{output}`` and ``result.json``
  ``{"arena_size": int | null, "error": str | null}``, written last.

With ``"search": {"invoke": bool}`` in the request, the child then looks for
the smallest arena that works (see :func:`_search`) and adds ``"search":
{"smallest": int, "invoked": bool, "probes": int, "invoke_error": str |
null}`` to the result. Each probe runs in a forked process, so a kernel that
crashes on a too small arena costs one probe, not the search.
"""

import os
import sys

# Python puts this file's directory first on sys.path; the modules beside it
# (inputs.py, tflm.py...) must not shadow anything the child imports.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import json  # noqa: E402
import re  # noqa: E402

_ALLOCATION_FAILURE = "Failed to allocate"
_REPORTED = re.compile(r"\[RecordingMicroAllocator\] Arena allocation (total|tail) (\d+) bytes")
#: Arenas below this are never probed: TFLite Micro's allocator objects do not
#: fit, and it dereferences a null pointer instead of failing.
_MIN_PROBE = 1024
#: First step above the reported total when that total is not enough.
_FIRST_STEP = 64


def _log_size() -> int:
    return os.fstat(2).st_size


def _log_since(workdir: str, offset: int) -> str:
    with open(os.path.join(workdir, "log.txt"), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", errors="replace")


def _load(runtime, model: bytes, arena_sizes: list, workdir: str):
    """Build the interpreter with the first arena size that allocates."""
    error = None
    for size in arena_sizes:
        os.write(2, f"serenity-tflm: arena {size} bytes\n".encode())
        mark = _log_size()
        try:
            return runtime.Interpreter.from_bytes(model, arena_size=size), size, None
        except Exception as err:  # the wrapper raises RuntimeError/ValueError
            error = f"{type(err).__name__}: {err}"
            if _ALLOCATION_FAILURE not in _log_since(workdir, mark):
                break
    return None, None, error


def _run(workdir: str) -> dict:
    import numpy as np
    from tflite_micro.python.tflite_micro import runtime

    with open(os.path.join(workdir, "request.json")) as f:
        request = json.load(f)
    with open(os.path.join(workdir, "model.tflite"), "rb") as f:
        model = f.read()

    search = request.get("search")
    interpreter, arena_size, error = _load(runtime, model, request["arena_sizes"], workdir)
    if interpreter is None:
        return {"arena_size": None, "error": error}
    sys.stdout.flush()
    mark = _log_size()
    interpreter.print_allocations()
    reported = {k: int(v) for k, v in _REPORTED.findall(_log_since(workdir, mark))}

    outputs, first_inputs, invoke_error = {}, [], None
    try:
        if request["n_sets"]:
            with np.load(os.path.join(workdir, "inputs.npz")) as feed:
                first_inputs = [feed[f"s0_i{i}"] for i in range(request["n_inputs"])]
                for s in range(request["n_sets"]):
                    if s:
                        interpreter.reset()
                    for i in range(request["n_inputs"]):
                        interpreter.set_input(feed[f"s{s}_i{i}"], i)
                    interpreter.invoke()
                    for o in range(request["n_outputs"]):
                        outputs[f"s{s}_o{o}"] = np.array(interpreter.get_output(o), copy=True)
            # Allocation happens while building the interpreter; printing again
            # after invoking lets the parent see anything a kernel added late.
            interpreter.print_allocations()
    except Exception as err:  # e.g. a kernel returning an error status
        if search is None:
            return {"arena_size": arena_size, "error": f"{type(err).__name__}: {err}"}
        invoke_error = f"{type(err).__name__}: {err}"
    np.savez(os.path.join(workdir, "outputs.npz"), **outputs)
    result = {"arena_size": arena_size, "error": None}
    if search is not None:
        del interpreter  # its arena would only crowd the probes
        invoke = bool(search.get("invoke")) and bool(first_inputs) and invoke_error is None
        result["search"] = _search(runtime, model, first_inputs if invoke else None, arena_size,
                                   reported.get("total", arena_size), reported.get("tail", 0))
        result["search"]["invoke_error"] = invoke_error
    return result


def _probe(runtime, model: bytes, size: int, inputs) -> bool:
    """Whether an interpreter with a ``size``-byte arena allocates (and, with
    ``inputs``, invokes), tried in a forked process when the platform can fork."""
    what = " and invoke" if inputs is not None else ""
    os.write(2, f"serenity-tflm: probe {size} bytes{what}\n".encode())

    def attempt() -> bool:
        try:
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=size)
            if inputs is not None:
                for i, x in enumerate(inputs):
                    interpreter.set_input(x, i)
                interpreter.invoke()
        except Exception:  # allocation or kernel failure: this size does not work
            return False
        return True

    if not hasattr(os, "fork"):
        return attempt()
    pid = os.fork()
    if pid == 0:  # the probe: report by exit status, skip all interpreter cleanup
        os._exit(0 if attempt() else 1)
    _, status = os.waitpid(pid, 0)
    ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    if os.WIFSIGNALED(status):
        os.write(2, f"serenity-tflm: probe {size} bytes died of signal {os.WTERMSIG(status)}\n".encode())
    return ok


def _search(runtime, model: bytes, inputs, known_good: int, total: int, tail: int) -> dict:
    """The smallest arena that allocates, then (with ``inputs``) also invokes.

    Success is taken to be monotone in the arena size (the plan does not
    depend on it). TFLite Micro's reported ``total`` is where the answer
    usually is: kernels' temporary memory while preparing can push it higher,
    rarely a few bytes lower. So: bracket around ``total``, galloping upwards
    if needed, then bisect to the byte. ``known_good`` worked already.
    """
    probes = 0

    def works(size: int, with_inputs) -> bool:
        nonlocal probes
        probes += 1
        return _probe(runtime, model, size, with_inputs)

    def bisect(lo: int, hi: int, with_inputs) -> int:
        # lo fails (or is assumed to), hi works
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if works(mid, with_inputs):
                hi = mid
            else:
                lo = mid
        return hi

    floor = max(_MIN_PROBE, tail) - 1  # nothing below the persistent data fits; never probed
    hi, start = known_good, max(floor + 1, min(total, known_good))
    if works(start, None):
        hi, lo = start, start - _FIRST_STEP
        if lo <= floor:
            lo = floor
        elif works(lo, None):  # rare: well below the total; search down to the floor
            hi, lo = lo, floor
    else:
        lo, step = start, _FIRST_STEP
        while lo + step < hi:
            if works(lo + step, None):
                hi = lo + step
                break
            lo, step = lo + step, step * 2
    smallest = bisect(lo, hi, None)
    invoked = False
    if inputs is not None:
        invoked = True
        if not works(smallest, inputs):
            smallest = bisect(smallest, known_good, inputs)
    return {"smallest": smallest, "invoked": invoked, "probes": probes}


def main(argv: list) -> int:
    workdir = argv[1]
    try:
        result = _run(workdir)
    except Exception as err:  # reported to the parent, which raises nothing
        result = {"arena_size": None, "error": f"{type(err).__name__}: {err}"}
    with open(os.path.join(workdir, "result.json.tmp"), "w") as f:
        json.dump(result, f)
    os.replace(os.path.join(workdir, "result.json.tmp"), os.path.join(workdir, "result.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
