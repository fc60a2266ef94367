"""A C/C++ header for the firmware that runs the model in TFLite Micro.

.. code-block:: c++

    #include "model_arena.h"
    alignas(16) static uint8_t tensor_arena[kTensorArenaSize];
    ModelOpResolver resolver;            // MicroMutableOpResolver<kModelOperatorTypes>
    RegisterModelOperators(resolver);    // exactly the model's operator types
    tflite::MicroInterpreter interpreter(tflite::GetModel(g_model), resolver, tensor_arena, kTensorArenaSize);

``kTensorArenaSize`` is for one target (:mod:`tflite_serenity.tflm.target_arena`)
and works from C too; the resolver and the model array's declaration are
C++. The model itself goes in a source file beside the header
(:func:`model_array_source`), so including the header from several files
keeps one copy in flash. The figures behind the size go in comments, so a
reviewer of the firmware sees where the number came from and which tool
version wrote it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .arena_size import TflmArenaSize

if TYPE_CHECKING:
    from .ops import Registration
    from .target_arena import TargetArena


def _guard(path_or_name: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z]+", "_", Path(path_or_name).name).strip("_").upper() or "TENSOR_ARENA_H"
    return ("_" + stem if stem[0].isdigit() else stem) + "_"


def _peak(model: bytes, tree=None) -> tuple[int, int]:
    """Largest peak of live activation bytes over subgraphs (stored order), and its subgraph."""
    from .. import memory
    from ..model import read_model
    from ..model_version import graphs_of

    peaks = [(memory.peak_bytes(g), g.subgraph) for g in graphs_of(read_model(model) if tree is None else tree)]
    return max(peaks, key=lambda p: (p[0], -p[1]), default=(0, 0))


def arena_header(
    size: TflmArenaSize,
    *,
    model_name: str,
    model: bytes | None = None,
    guard: str = "MODEL_ARENA_H_",
    symbol: str = "kTensorArenaSize",
    target: "TargetArena | None" = None,
    operators: "Sequence[Registration] | None" = None,
    model_array: str | None = None,
    tree=None,
) -> str:
    """The text of a header that defines ``constexpr size_t kTensorArenaSize``.

    Parameters
    ----------
    size : TflmArenaSize
        From :func:`tflite_serenity.tflm_arena_size`: the 64-bit host's figure.
    model_name : str
        Shown in the comments (a file name).
    model : bytes, optional
        The model's bytes: adds its size, SHA-256 and peak of live
        activation bytes to the comments.
    guard, symbol : str
        Include guard and constant name.
    target : TargetArena, optional
        From :func:`tflite_serenity.tflm.target_arena`: the size for that
        target instead of the host's (without it: the host's, as measured).
    operators : sequence of Registration, optional
        From :func:`tflite_serenity.tflm.registrations`: adds (for C++)
        ``RegisterModelOperators``, which registers them in a
        ``tflite::MicroMutableOpResolver<N>`` (``ModelOpResolver``).
    model_array : str, optional
        Declares ``extern const unsigned char <model_array>[]`` and
        ``<model_array>_len``, defined in the source file
        :func:`model_array_source` writes.

    Returns
    -------
    str
        ``kTensorArenaSize`` as C++ ``constexpr`` and, for C, a ``#define``;
        the operators and model array for C++ only.
    """
    from .._version import __version__

    carries = ["the tensor arena size"] + (["the operators to register"] if operators is not None else []) + (
        ["the model array"] if model_array is not None else [])
    lines = [
        f"// For TFLite Micro firmware running {model_name}: {_and(carries)}.",
        f"// Written by tflite-serenity {__version__} (python -m tflite_serenity report --emit-header); "
        "regenerate, do not edit.",
        "//",
    ]
    if model is not None:
        digest = hashlib.sha256(model).hexdigest()
        peak, where = _peak(model, tree)
        lines += [
            f"//   model             {model_name}, {_n(len(model))}, sha256 {digest[:16]}",
            f"//   peak activations  {_n(peak)} live at once (stored operator order"
            + (f", subgraph {where})" if where else ")"),
        ]
    if target is None or target.target == "host":
        lines += _host_figures(size, stated=target is not None)
        arena_size = size.arena_size
    else:
        lines += _cortex_m_figures(target)
        arena_size = target.arena_size
    lines += [
        "//",
        f"//   alignas(16) static uint8_t tensor_arena[{symbol}];",
    ]
    if operators is not None:
        lines += ["//   ModelOpResolver resolver;",
                  f"//   RegisterModelOperators(resolver{''.join(', ' + r.parameter for r in operators if r.parameter)});"]
    if model_array is not None:
        lines += [f"//   const tflite::Model* model = tflite::GetModel({model_array});"]
    lines += [
        f"//   tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, {symbol});",
        "",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stddef.h>",
        "",
        "#ifdef __cplusplus",
        f"constexpr size_t {symbol} = {arena_size};",
        "#else",
        f"#define {symbol} ((size_t){arena_size})",
        "#endif",
        "",
    ]
    if operators is not None or model_array is not None:
        lines += ["#ifdef __cplusplus", ""]
        if operators is not None:
            lines += _resolver(operators, model_name)
        if model_array is not None:
            lines += [
                f"// The model, 16-byte aligned, defined in the source file written beside this header.",
                f"alignas(16) extern const unsigned char {model_array}[];",
                f"extern const unsigned int {model_array}_len;",
                "",
            ]
        lines += ["#endif  // __cplusplus", ""]
    lines += [f"#endif  // {guard}", ""]
    return "\n".join(lines)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _n(value: int) -> str:
    return f"{value:,} bytes"


def _host_figures(size: TflmArenaSize, *, stated: bool) -> list[str]:
    runtime = f"TFLite Micro {size.tflm_version}" if size.tflm_version else "TFLite Micro"
    how = f"measured, {size.method} ({runtime}, reference kernels, 64-bit host)" if size.measured else size.method
    lines = ["//   target            host: TFLite Micro on the 64-bit machine that measured"] if stated else []
    lines += [
        f"//   head              {_n(size.head)} (planned tensors{'' if size.measured else ', simulated'})",
        f"//   tail              {_n(size.tail)} (persistent interpreter and kernel data"
        + ("" if size.measured else ", estimated") + ")",
        f"//   lower bound       {_n(size.lower_bound)} (head + tail, to within 16 bytes of alignment;",
        "//                     kernels also take temporary memory while preparing, so a",
        "//                     working arena can need more)",
    ]
    needed = _wrap(f"{_n(size.needed)}, {how}", "//                     ")
    lines += ["//   needed            " + needed[0].lstrip("/ ")] + needed[1:]
    lines += [
        f"//   margin            {_n(size.margin)} (TFLite Micro aligns an arena's start to 16 bytes),",
        "//                     then rounded up to a multiple of 16",
        "//",
        "// For a Cortex-M with CMSIS-NN's kernels, which ask for other scratch buffers and",
        "// keep a smaller tail: --target cortex-m (docs/device.md). Check on the device",
        "// that AllocateTensors() and Invoke() succeed (arena_used_bytes() leaves out",
        "// what TFLite Micro takes while preparing).",
    ]
    return lines


_CORES = {
    "cortex-m": "a 32-bit Cortex-M with CMSIS-NN's kernels, DSP (Cortex-M4 class) or MVE (Cortex-M55 class): "
                "the larger need of the two",
    "cortex-m4": "a 32-bit Cortex-M with CMSIS-NN's DSP kernels (Cortex-M4 class)",
    "cortex-m55": "a 32-bit Cortex-M with CMSIS-NN's MVE (Helium) kernels (Cortex-M55 class)",
}


def _cortex_m_figures(target: "TargetArena") -> list[str]:
    from .target_arena import TAIL_MARGIN

    host = target.host
    lines = _labelled("target", f"{target.target}: {_CORES[target.target]}; figures for {target.kernels}")
    lines += _labelled("head", f"{_n(target.head)}: planned tensors and {target.kernels}'s scratch buffers, "
                       "simulated (TFLite Micro's planner, the model's offline plan where it has one)")
    lines += _labelled("tail", f"{_n(target.tail)}: persistent interpreter and kernel data on 32 bits, "
                       "estimated: TFLite Micro's allocations replayed with the sizes of its structs and "
                       f"of {target.kernels}'s kernel data")
    lines += _labelled("preparing", f"{_n(target.preparing)}: the most the arena holds before the head is "
                       "planned (the tail so far, scratch requests, temporary tensors, the planner's arrays), "
                       "estimated")
    lines += _labelled("needed", f"{_n(target.needed)}: the larger of head + tail and preparing, rounded up to 16")
    lines += _labelled("margin", f"{_n(target.margin)}: 16 for an arena not declared alignas(16), or "
                       f"{TAIL_MARGIN:.1%} of the 32-bit tail (for kernel data not listed to the byte) rounded up "
                       "to 16 where that is more")
    lines += _labelled("host figure", f"{_n(host.arena_size)}, for TFLite Micro on the 64-bit host (--target host)")
    lines += [
        "//",
        "// On an emulated Cortex-M4 and M55 (TFLite Micro 90b983c2, CMSIS-NN 4ab83cc3) this",
        "// figure was never below the smallest working arena (docs/device.md). Other",
        "// kernel libraries (ESP-NN, Xtensa) or versions may ask for more: check on the",
        "// device that AllocateTensors() and Invoke() succeed (arena_used_bytes() leaves",
        "// out what TFLite Micro takes while preparing).",
    ]
    return lines


def _labelled(label: str, text: str) -> list[str]:
    body = _wrap(text, "//                     ")
    return [f"//   {label:<18}" + body[0].lstrip("/ ")] + body[1:]


def _resolver(operators: "Sequence[Registration]", model_name: str) -> list[str]:
    registered = [r for r in operators if r.method is not None]
    missing = [r.kind for r in operators if r.method is None]
    parameters = [r for r in registered if r.parameter]
    lines = [
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        "",
        f"// The {len(registered)} operator types of {model_name} (all subgraphs), one Add...() each.",
    ]
    for kind in missing:
        lines.append(f"// NOT REGISTERED: {kind}: TFLite Micro has no MicroMutableOpResolver method for it;")
        lines.append("// the interpreter fails on it unless the firmware's TFLite Micro registers it.")
    lines += [
        f"constexpr unsigned int kModelOperatorTypes = {len(registered)};",
        "using ModelOpResolver = tflite::MicroMutableOpResolver<kModelOperatorTypes>;",
        "",
    ]
    for r in parameters:
        lines.append(f"// {r.parameter}: the firmware's kernel for the custom operator \"{r.custom_code}\",")
        lines.append("// which TFLite Micro does not ship (its TFLMRegistration, e.g. from a Register_...()).")
    signature = "".join(f", const TFLMRegistration* {r.parameter}" for r in parameters)
    lines.append(f"inline TfLiteStatus RegisterModelOperators(ModelOpResolver& resolver{signature}) {{")
    lines += [f"  if ({r.call()} != kTfLiteOk) return kTfLiteError;" for r in registered]
    lines += ["  return kTfLiteOk;", "}", ""]
    return lines


def model_array_source(model: bytes, *, header_name: str, model_name: str, symbol: str = "g_model") -> str:
    """A C++ source file defining the model as a 16-byte aligned constant array.

    It includes the header (named ``header_name``) that declares the array,
    so the compiler checks both agree; one definition, however many files
    include the header.
    """
    from .._version import __version__

    digest = hashlib.sha256(model).hexdigest()
    rows = [", ".join(map(_HEX.__getitem__, model[start:start + 12])) for start in range(0, len(model), 12)]
    return "\n".join([
        f"// {model_name}, {_n(len(model))}, sha256 {digest[:16]}, as a C++ array.",
        f"// Written by tflite-serenity {__version__} (python -m tflite_serenity report --emit-model-array); "
        "regenerate, do not edit.",
        "",
        f'#include "{_c_include(header_name)}"',
        "",
        f"alignas(16) const unsigned char {symbol}[] = {{",
        *(f"    {row}," for row in rows),
        "};",
        f"const unsigned int {symbol}_len = {len(model)};",
        "",
    ])


_HEX = tuple(f"0x{b:02x}" for b in range(256))


def _c_include(name: str) -> str:
    return name.replace("\\", "/").replace('"', "")


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
                       model: bytes | None = None, target: "TargetArena | None" = None,
                       operators: "Sequence[Registration] | None" = None, model_array: str | None = None,
                       tree=None) -> None:
    """Write :func:`arena_header` to ``path`` whole, its include guard named after the file."""
    from ..fileio import write_atomic

    text = arena_header(size, model_name=model_name, model=model, guard=_guard(str(path)), target=target,
                        operators=operators, model_array=model_array, tree=tree)
    write_atomic(path, text.encode())
