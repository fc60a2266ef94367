"""The child process that runs TFLite Micro for :mod:`tflite_serenity.verify.tflm`.

Run as ``python _tflm_child.py WORKDIR``: this file imports nothing from
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
"""

import os
import sys

# Python puts this file's directory first on sys.path; the modules beside it
# (inputs.py, tflm.py...) must not shadow anything the child imports.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import json  # noqa: E402

_ALLOCATION_FAILURE = "Failed to allocate"


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

    interpreter, arena_size, error = _load(runtime, model, request["arena_sizes"], workdir)
    if interpreter is None:
        return {"arena_size": None, "error": error}
    sys.stdout.flush()
    interpreter.print_allocations()

    outputs = {}
    try:
        if request["n_sets"]:
            with np.load(os.path.join(workdir, "inputs.npz")) as feed:
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
        return {"arena_size": arena_size, "error": f"{type(err).__name__}: {err}"}
    np.savez(os.path.join(workdir, "outputs.npz"), **outputs)
    return {"arena_size": arena_size, "error": None}


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
