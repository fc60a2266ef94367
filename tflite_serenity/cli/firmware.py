"""The ``report`` command's firmware options: ``--emit-header``, ``--target``,
``--emit-model-array``, ``--allow-missing-ops``.

Kept apart from the command line's routing so the options, their checks and
the files they write stay in one place.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Sequence

from ..errors import SerenityError
from ..options import Target
from ..tflm.arena_size import TflmArenaSize
from ..tflm.target_arena import DEFAULT_TARGET, TAIL_MARGIN, TARGETS, TargetArena

if TYPE_CHECKING:
    from ..tflm.ops import Registration

MODEL_SYMBOL = "g_model"
"""The model array's name, as in TFLite Micro's examples (``g_model``, ``g_model_len``)."""


def add_firmware_arguments(p: argparse.ArgumentParser) -> None:
    """Add the firmware options to the ``report`` parser."""
    p.add_argument("--emit-header", metavar="PATH",
                   help="write a C/C++ header for the firmware (implies --tflm): kTensorArenaSize for --target, "
                        "with the figures as comments, and for C++ RegisterModelOperators(), which registers "
                        "exactly the model's operator types in a tflite::MicroMutableOpResolver<N> "
                        "(ModelOpResolver); a custom operator's kernel is its parameter. For a model TFLite Micro "
                        "cannot load, only with --no-tflm, which writes the estimate")
    p.add_argument("--target", choices=TARGETS, default=None,
                   help=f"the device the arena size is for (default: {DEFAULT_TARGET}): cortex-m, a 32-bit "
                        "microcontroller with CMSIS-NN's kernels, the larger need of cortex-m4 (DSP kernels) "
                        "and cortex-m55 (MVE kernels): head with their scratch buffers (simulated) plus the "
                        "tail, or what preparing takes, whichever is more, both from TFLite Micro's allocations "
                        "replayed on 32 bits (estimated), plus a margin of 16 bytes or 0.5%% of the tail, "
                        "whichever is more; host: TFLite Micro on this 64-bit machine with its reference "
                        "kernels, as measured")
    p.add_argument("--emit-model-array", metavar="PATH.cc",
                   help=f"also write the model as a C++ source file defining alignas(16) const unsigned char "
                        f"{MODEL_SYMBOL}[] and {MODEL_SYMBOL}_len, which the header declares (needs --emit-header)")
    p.add_argument("--allow-missing-ops", action="store_true",
                   help="write the header even when TFLite Micro has no MicroMutableOpResolver method for an "
                        "operator of the model (it is listed as not registered)")


def check_firmware_arguments(args: argparse.Namespace) -> None:
    """Refuse combinations that mean nothing, before any work."""
    if args.emit_model_array and not args.emit_header:
        raise SerenityError("--emit-model-array needs --emit-header (the header declares the array)")
    if args.allow_missing_ops and not args.emit_header:
        raise SerenityError("--allow-missing-ops applies to --emit-header only")
    if args.target is not None and not (args.tflm or args.emit_header):
        raise SerenityError("--target applies to --tflm and --emit-header only")
    if args.emit_model_array and os.path.abspath(args.emit_model_array) == os.path.abspath(args.emit_header):
        raise SerenityError("--emit-model-array and --emit-header name the same file")


def target_of(args: argparse.Namespace, size: TflmArenaSize, data: bytes, tree=None) -> TargetArena:
    """The arena for the target ``args`` asks for (default :data:`DEFAULT_TARGET`)."""
    from ..tflm.target_arena import target_arena

    return target_arena(size, data, Target.named(args.target or DEFAULT_TARGET), tree=tree)


def firmware_operators(args: argparse.Namespace, data: bytes, tree=None) -> "tuple[Registration, ...] | None":
    """The header's registrations when ``args`` ask for a header, else None.

    Raises
    ------
    UnsupportedModelError
        For an operator TFLite Micro has no method for, unless ``--allow-missing-ops``.
    """
    from ..tflm.ops import model_operator_kinds, registrations

    if not args.emit_header:
        return None
    return registrations(model_operator_kinds(data, tree=tree), allow_missing=args.allow_missing_ops)


def write_firmware_files(args: argparse.Namespace, size: TflmArenaSize, target: TargetArena,
                         operators: "Sequence[Registration]", data: bytes, name: str, tree=None) -> list[str]:
    """Write the header (and the model array) ``args`` ask for; the paths written."""
    from ..fileio import write_atomic
    from ..tflm.header import model_array_source, write_arena_header

    symbol = MODEL_SYMBOL if args.emit_model_array else None
    write_arena_header(args.emit_header, size, model_name=name, model=data, target=target, operators=operators,
                       model_array=symbol, tree=tree)
    written = [args.emit_header]
    if args.emit_model_array:
        include = os.path.relpath(os.path.abspath(args.emit_header),
                                  os.path.dirname(os.path.abspath(args.emit_model_array)))
        text = model_array_source(data, header_name=include, model_name=name, symbol=MODEL_SYMBOL)
        write_atomic(args.emit_model_array, text.encode())
        written.append(args.emit_model_array)
    return written


def target_text(target: TargetArena) -> str:
    """Lines for the report when the target is not the host."""
    from ..units import format_bytes

    if target.target == "host":
        return ""
    return "\n".join([
        f"arena_size for {target.target} (32-bit): {format_bytes(target.arena_size)} (estimated)",
        f"  needed       {format_bytes(target.needed)}: {target.method}",
        f"  head         {format_bytes(target.head)} (with {target.kernels}'s scratch buffers), tail "
        f"{format_bytes(target.tail)} on 32 bits, preparing {format_bytes(target.preparing)}",
        f"  margin       {target.margin:,} B: 16 bytes for alignment, or {TAIL_MARGIN:.1%} of the 32-bit tail "
        "rounded up to 16 where that is more",
    ]) + "\n"
