"""A C/C++ header with the arena size, for the firmware that embeds the model.

.. code-block:: c++

    #include "model_arena.h"
    alignas(16) static uint8_t tensor_arena[kTensorArenaSize];
    tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kTensorArenaSize);

The figures behind the size go in comments, so a reviewer of the firmware
sees where the number came from and which tool version wrote it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .arena_size import TflmArenaSize


def _guard(path_or_name: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z]+", "_", Path(path_or_name).name).strip("_").upper() or "TENSOR_ARENA_H"
    return ("_" + stem if stem[0].isdigit() else stem) + "_"


def _peak(model: bytes) -> tuple[int, int]:
    """Largest peak of live activation bytes over subgraphs (stored order), and its subgraph."""
    from .. import memory
    from ..graph import build_graphs
    from ..model import read_model

    peaks = [(memory.peak_bytes(g), g.subgraph) for g in build_graphs(read_model(model))]
    return max(peaks, key=lambda p: (p[0], -p[1]), default=(0, 0))


def arena_header(
    size: TflmArenaSize,
    *,
    model_name: str,
    model: bytes | None = None,
    guard: str = "MODEL_ARENA_H_",
    symbol: str = "kTensorArenaSize",
) -> str:
    """The text of a header that defines ``constexpr size_t kTensorArenaSize``.

    Parameters
    ----------
    size : TflmArenaSize
        From :func:`tflite_serenity.tflm_arena_size`.
    model_name : str
        Shown in the comments (a file name).
    model : bytes, optional
        The model's bytes: adds its size, SHA-256 and peak of live
        activation bytes to the comments.
    guard, symbol : str
        Include guard and constant name.

    Returns
    -------
    str
        C++ (``constexpr``) with a ``#define`` of the same value for C.
    """
    from .._version import __version__

    def n(value: int) -> str:
        return f"{value:,} bytes"

    lines = [
        f"// TFLite Micro tensor arena for {model_name}.",
        f"// Written by tflite-serenity {__version__} (python -m tflite_serenity report --emit-header); "
        "regenerate, do not edit.",
        "//",
    ]
    if model is not None:
        digest = hashlib.sha256(model).hexdigest()
        peak, where = _peak(model)
        lines += [
            f"//   model             {model_name}, {n(len(model))}, sha256 {digest[:16]}",
            f"//   peak activations  {n(peak)} live at once (stored operator order"
            + (f", subgraph {where})" if where else ")"),
        ]
    runtime = f"TFLite Micro {size.tflm_version}" if size.tflm_version else "TFLite Micro"
    how = f"measured, {size.method} ({runtime}, reference kernels, 64-bit host)" if size.measured else size.method
    lines += [
        f"//   head              {n(size.head)} (planned tensors{'' if size.measured else ', simulated'})",
        f"//   tail              {n(size.tail)} (persistent interpreter and kernel data"
        + ("" if size.measured else ", estimated") + ")",
        f"//   lower bound       {n(size.lower_bound)} (head + tail, to within 16 bytes of alignment;",
        "//                     kernels also take temporary memory while preparing, so a",
        "//                     working arena can need more)",
    ]
    needed = _wrap(f"{n(size.needed)}, {how}", "//                     ")
    lines += ["//   needed            " + needed[0].lstrip("/ ")] + needed[1:]
    lines += [
        f"//   margin            {n(size.margin)} (TFLite Micro aligns an arena's start to 16 bytes),",
        "//                     then rounded up to a multiple of 16",
        "//",
        "// A 32-bit target needs a little less (smaller pointers). Optimized kernels",
        "// (CMSIS-NN, ESP-NN, ...) request other scratch buffers: check",
        "// interpreter.arena_used_bytes() on the target once.",
        "//",
        f"//   alignas(16) static uint8_t tensor_arena[{symbol}];",
        f"//   tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, {symbol});",
        "",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stddef.h>",
        "",
        "#ifdef __cplusplus",
        f"constexpr size_t {symbol} = {size.arena_size};",
        "#else",
        f"#define {symbol} ((size_t){size.arena_size})",
        "#endif",
        "",
        f"#endif  // {guard}",
        "",
    ]
    return "\n".join(lines)


def _wrap(text: str, prefix: str, width: int = 80) -> list[str]:
    out, line = [], ""
    for word in text.split():
        if line and len(prefix) + len(line) + 1 + len(word) > width:
            out.append(prefix + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        out.append(prefix + line)
    return out


def write_arena_header(path: str | os.PathLike, size: TflmArenaSize, *, model_name: str,
                       model: bytes | None = None) -> None:
    """Write :func:`arena_header` to ``path`` whole, its include guard named after the file."""
    from ..fileio import write_atomic

    text = arena_header(size, model_name=model_name, model=model, guard=_guard(str(path)))
    write_atomic(path, text.encode())
