"""Write the small committed test models and their manifest into tests/data/.

Every model is built from a fixed seed, converted, described and run in
LiteRT and TFLite Micro (each in a child process); ``MANIFEST.json`` records
what was found, and the script fails if a model does not run where it is
expected to or gives constant outputs.

Examples
--------
python -m scripts.models.make_test_models            # rebuild everything (~1-2 minutes)
python -m scripts.models.make_test_models --check    # only re-verify the committed files
python -m scripts.models.make_test_models --only irregular,darts_tiny
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import tensorflow as tf
from tensorflow import keras

from scripts.models import fixture_nets, modelcheck, modelkit, signal_models, zoo_nets

SEED = 0
BOTH = ("litert", "tflm")
Variants = dict[str, bytes]


@dataclass(frozen=True)
class TestModel:
    """A family of test files ``{stem}_{variant}.tflite`` made by one ``make`` call.

    ``expect`` names the runtimes that must run every file of the family
    with non-constant outputs.
    """

    stem: str
    description: str
    make: Callable[[], Variants]
    expect: tuple[str, ...] = BOTH


def keras_variants(build: Callable[[], keras.Model], int8: bool = True, int16: bool = False) -> Callable[[], Variants]:
    """Seed, build, recalibrate, then convert to float32 (and full int8, and 16x8)."""

    def make() -> Variants:
        modelkit.seed_everything(SEED)
        model = build()
        shape = modelkit.input_shape(model)[1:]
        modelkit.recalibrate(model, modelkit.random_inputs(shape, 8, SEED + 1))
        out = {"float": modelkit.to_float_tflite(model)}
        if int8:
            out["int8"] = modelkit.to_int8_tflite(model, modelkit.random_inputs(shape, 32, SEED + 2))
        if int16:
            out["int16"] = modelkit.to_int16x8_tflite(model, modelkit.random_inputs(shape, 32, SEED + 2))
        return out

    return make


def float16_weights(build: Callable[[], keras.Model]) -> Callable[[], Variants]:
    """Seed, build, recalibrate, then convert with float16 weights: one DEQUANTIZE per weight."""

    def make() -> Variants:
        modelkit.seed_everything(SEED)
        model = build()
        modelkit.recalibrate(model, modelkit.random_inputs(modelkit.input_shape(model)[1:], 8, SEED + 1))
        converter = tf.lite.TFLiteConverter.from_concrete_functions([modelkit.concrete_function(model)])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        return {"float16": converter.convert()}

    return make


def function_variants(factory: Callable[[int], tf.types.experimental.PolymorphicFunction],
                      int8: bool = True, **options) -> Callable[[], Variants]:
    """Convert a seeded ``tf.function`` to float32 (and full int8); ``options`` go to the converter."""

    def make() -> Variants:
        modelkit.seed_everything(SEED)
        function = factory(SEED).get_concrete_function()

        def converter() -> tf.lite.TFLiteConverter:
            conv = tf.lite.TFLiteConverter.from_concrete_functions([function])
            for key, value in options.items():
                setattr(conv, key, value)
            return conv

        out = {"float": converter().convert()}
        if int8:
            shape = tuple(function.inputs[0].shape)[1:]
            out["int8"] = modelkit.quantize_int8(converter(), modelkit.random_inputs(shape, 32, SEED + 2))
        return out

    return make


def weight_only_variants(build: Callable[[], keras.Model]) -> Callable[[], Variants]:
    """Seed, build, recalibrate, then convert with weights only quantized:
    float16 weights (``supported_types=[tf.float16]``) and dynamic-range int8
    weights with float activations (no representative data set)."""

    def make() -> Variants:
        modelkit.seed_everything(SEED)
        model = build()
        shape = modelkit.input_shape(model)[1:]
        modelkit.recalibrate(model, modelkit.random_inputs(shape, 8, SEED + 1))
        function = modelkit.concrete_function(model)
        out = {}
        for variant, types in (("float16", [tf.float16]), ("hybrid", None)):
            converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if types:
                converter.target_spec.supported_types = types
            out[variant] = converter.convert()
        return out

    return make


def module_float(factory: Callable[[int], tf.Module]) -> Callable[[], Variants]:
    """Float32 conversion of a module's ``__call__`` through a SavedModel."""

    def make() -> Variants:
        modelkit.seed_everything(SEED)
        module = factory(SEED)
        return {"float": modelkit.convert_via_saved_model(module, module.__call__.get_concrete_function())}

    return make


def dynamic_float() -> Variants:
    """``from_keras_model`` keeps the unspecified batch: shape_signature [-1, 8, 8, 3]."""
    modelkit.seed_everything(SEED)
    return {"float": tf.lite.TFLiteConverter.from_keras_model(fixture_nets.dynamic_batch()).convert()}


def test_models() -> list[TestModel]:
    """All test model families, in build order."""
    return [
        TestModel("tiny_branch", "[1,8,8,4] -> CONV_2D 3x3 (6 ch) and CONV_2D 1x1 (2 ch) -> CONCATENATION -> "
                  "CONV_2D 1x1 (3 ch). Float32 activation bytes: input 1024, branches 1536 and 512, "
                  "concat 2048, output 768.",
                  keras_variants(fixture_nets.tiny_branch, int8=False)),
        TestModel("small_cnn", "Conv/BN/ReLU, depthwise conv, 1x1 conv, max+avg pool, dense+softmax; "
                  "int8 has per-channel conv and depthwise weights; int16 is 16x8 (int16 activations, int8 weights).",
                  keras_variants(fixture_nets.small_cnn, int16=True)),
        TestModel("irregular", "Branches, ADD, concat->CONV_2D and concat->DEPTHWISE_CONV_2D sites. The stored "
                  "order keeps three early branches live across a 96-channel expansion: counting every "
                  "non-constant tensor from producer to last consumer, its peak is 163840 B float / 40960 B "
                  "int8, the best order's 114688 / 28672 (exhaustive search).", keras_variants(fixture_nets.irregular)),
        TestModel("while", "tf.while_loop: WHILE with cond and body subgraphs, 3 iterations of relu(hW+b). "
                  "In int8 the loop-carried tensor stays float32 (DEQUANTIZE/QUANTIZE around and inside "
                  "the body).", function_variants(fixture_nets.while_function)),
        TestModel("if", "tf.cond: IF with two branch subgraphs (relu(xW) or tanh(xW+b)). In int8 the IF "
                  "output is float32 with QUANTIZE/DEQUANTIZE at the branch edges.",
                  function_variants(fixture_nets.if_function)),
        TestModel("dynamic", "Input shape_signature [-1, 8, 8, 3] (dynamic batch, from_keras_model).",
                  dynamic_float),
        TestModel("stateful_lstm", "UNIDIRECTIONAL_SEQUENCE_LSTM (fused from a tagged tf.function) whose two "
                  "state tensors are is_variable tensors, then a dense head on the last step.",
                  module_float(fixture_nets.FusedLstm)),
        TestModel("resource_variable", "Resource-variable state s <- s/2 + xW: VAR_HANDLE, READ_VARIABLE, "
                  "ASSIGN_VARIABLE and a CALL_ONCE initialisation subgraph.",
                  module_float(fixture_nets.Accumulator)),
        TestModel("custom_op", "FULLY_CONNECTED -> CUSTOM (BesselI1e, no builtin; allow_custom_ops) -> "
                  "FULLY_CONNECTED. Runs in no interpreter without a registered kernel.",
                  function_variants(fixture_nets.custom_op_function, int8=False, allow_custom_ops=True),
                  expect=()),
        TestModel("weight_only", "Two CONV_2D and a FULLY_CONNECTED, each with over 1024 weights, converted "
                  "with weights only quantized: float16 weights behind DEQUANTIZE operators, and dynamic-range "
                  "(hybrid) int8 weights with float32 activations. LiteRT runs both; TFLite Micro loads "
                  "neither (its DEQUANTIZE takes no float16, its kernels no hybrid weights).",
                  weight_only_variants(fixture_nets.weight_heavy), expect=("litert",)),
        TestModel("randwire_tiny", "RandWire WS(8, 4, 0.75), 2 stages, C=8, 32x32 input.",
                  keras_variants(lambda: zoo_nets.randwire("ws", nodes=8, channels=8, input_size=32, classes=10),
                                 int16=True)),
        TestModel("darts_tiny", "DARTS-V2 genotype, 5 cells, C=8, 16x16 input.",
                  keras_variants(lambda: zoo_nets.darts(cells=5, channels=8, input_size=16))),
        TestModel("swiftnet_tiny", "Inception-style blocks, widths (8, 16), 1 block per stage, 32x32 input.",
                  keras_variants(lambda: zoo_nets.swiftnet(32, (8, 16), 1))),
        TestModel("unet_tiny", "U-Net, 3 levels, base 4, 32x32 input, transposed-conv upsampling.",
                  keras_variants(lambda: zoo_nets.unet(32, 4, 3, 2), int16=True)),
        TestModel("inplace", "Residual ADD, SUB and squeeze-excite MUL (broadcast scale), each over a "
                  "[1,16,16,16] map that dies there: 3 maps alive at those steps in TFLite Micro's own plan, "
                  "2 when the output is written over the dying input (float 49152 -> 32768 B).",
                  keras_variants(fixture_nets.inplace_blocks, int16=True)),
        TestModel("pad_crop", "NASNet's one-pixel shift: PAD [1,16,16,16] -> [1,17,17,16] read only by a "
                  "STRIDED_SLICE back to 16x16 (the crop may go first: the intermediate shrinks to 15x15), "
                  "beside a PAD read by a crop and a convolution (stays).",
                  keras_variants(fixture_nets.pad_crop, int16=True)),
        TestModel("per_pixel", "Conv, then ADD of a constant of the whole map's shape [16,16,8] (a different "
                  "value per pixel), then a strided conv: the ADD must stay out of row strips.",
                  keras_variants(fixture_nets.per_pixel_constant)),
        TestModel("scratch_kernels", "conv -> MIRROR_PAD (REFLECT) -> conv, then SUM, REDUCE_MAX, REDUCE_MIN and "
                  "ADD_N: kernels asking TFLite Micro for scratch buffers. In int8 ADD_N runs in float32 "
                  "(DEQUANTIZE around it).", function_variants(fixture_nets.scratch_kernels_function)),
        TestModel("signal_grow", "int16 audio front end of TFLite Micro signal operators (SignalWindow, "
                  "SignalRfft, SignalEnergy; custom, written from the schema) and CONCATENATION. A plan packed "
                  "without SignalRfft's scratch buffer (unmodelled) measures larger than TFLite Micro's own.",
                  lambda: {"int16": signal_models.signal_grow()}, expect=("tflm",)),
        TestModel("signal_shrink", "int16 signal front end (SignalRfft, SignalEnergy, CONCATENATION) on which "
                  "our plan measures smaller than TFLite Micro's own, unmodelled scratch buffer included.",
                  lambda: {"int16": signal_models.signal_shrink()}, expect=("tflm",)),
        TestModel("irregular_weights", "The irregular net with float16 weights: each weight and bias is a "
                  "DEQUANTIZE reading a constant, which may run anywhere before its consumer.",
                  float16_weights(fixture_nets.irregular), expect=("litert",)),
        TestModel("transformer_tiny", "Transformer encoder, 1 layer, seq 8, dim 16, 2 heads, FFN 32.",
                  keras_variants(lambda: zoo_nets.transformer(8, 16, 1, 2, 32))),
    ]


def manifest_entry(family: TestModel, path: Path) -> dict:
    """Description, structure and runtime results of one file (no timings, so reruns are stable)."""
    return {"description": family.description, **modelcheck.checked(path, family.expect)}


def print_table(manifest: dict[str, dict]) -> None:
    """One line per file: operators, subgraphs, size and per-runtime result."""
    print(f"{'file':32} {'ops':>4} {'sg':>3} {'bytes':>7}  {'litert':8} {'tflm':8}")
    for name, e in manifest.items():
        marks = ["ok" if e["checks"][r]["ok"] else "FAIL" for r in modelcheck.RUNTIMES]
        print(f"{name:32} {e['op_count']:4d} {e['subgraph_count']:3d} {e['bytes']:7d}  {marks[0]:8} {marks[1]:8}")
    print(f"total {sum(e['bytes'] for e in manifest.values())} bytes in {len(manifest)} files")


def build(out: Path, families: list[TestModel], manifest: dict[str, dict]) -> dict[str, dict]:
    """Make every file of ``families`` in ``out`` and update ``manifest`` with them."""
    for family in families:
        start = time.perf_counter()
        for variant, data in family.make().items():
            path = out / f"{family.stem}_{variant}.tflite"
            path.write_bytes(data)
            manifest[path.name] = manifest_entry(family, path)
        print(f"  {family.stem}: {time.perf_counter() - start:.1f} s", flush=True)
    return dict(sorted(manifest.items()))


def main(argv: list[str] | None = None) -> int:
    """Build (default) or re-verify (``--check``) the test models; exit 1 on any problem."""
    args = modelcheck.manifest_parser(__doc__.split("\n\n")[0], "families").parse_args(argv)
    return modelcheck.manifest_main(
        args.out / "MANIFEST.json", args.check,
        lambda manifest: build(args.out, modelcheck.only(test_models(), args.only), manifest), print_table)


if __name__ == "__main__":
    sys.exit(main())
