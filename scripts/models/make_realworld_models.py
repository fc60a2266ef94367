"""Write the regression set of real-world model patterns into tests/data/.

Each model is one way real .tflite files differ from the plain float32 and
full-int8 converter output of ``make_test_models.py``: float16 weights behind
DEQUANTIZE operators, dynamic-range (hybrid) quantization, int16 activations
with int8 weights, sparse weights with DENSIFY, Keras LSTMs, custom
operators, a dynamic batch dimension, and a model compiled by Arm's Vela.
All are made by the real converter from fixed seeds; ``REALWORLD.json``
records for each its pattern, operators, and whether LiteRT (no default
delegates) and TFLite Micro run it, each checked in a child process.

Vela is not a dependency: give ``--vela`` the ``vela`` executable of its own
virtual environment (``python -m venv V && V/bin/pip install ethos-u-vela``);
without it the Vela model is skipped and the committed file kept.

Examples
--------
python -m scripts.models.make_realworld_models --vela /work/venv-vela/bin/vela   # everything (~1 minute)
python -m scripts.models.make_realworld_models --only fp16_cnn,sparse_fc
python -m scripts.models.make_realworld_models --check                          # re-verify the committed files
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
from tensorflow import keras

from scripts.models import fixture_nets, modelcheck, modelkit, zoo_nets

SEED = 0
PREFIX = "realworld_"
INDEX = "REALWORLD.json"
layers = keras.layers


@dataclass(frozen=True)
class RealWorldModel:
    """One file ``realworld_{stem}.tflite`` made by ``make(vela)``.

    ``expect`` names the runtimes that must run it with non-constant
    outputs; ``make`` returns None when it cannot be made here (no Vela).
    """

    stem: str
    pattern: str
    description: str
    make: Callable[[str | None], bytes | None]
    expect: tuple[str, ...] = ("litert", "tflm")


# -- networks -----------------------------------------------------------------


def branchy_cnn(batch: int | None = 1, width: int = 16) -> keras.Model:
    """[16,16,3] -> conv stem -> three branches (3x3, 1x1, pool+1x1) -> concat ->
    depthwise -> 1x1 -> residual ADD -> global pool -> dense: the operator order
    matters, and the 3x3x16x32 convolutions are large enough (over 1024
    weights) for the converter's weight-only quantization."""
    inp = keras.Input((16, 16, 3), batch_size=batch)
    stem = layers.Conv2D(width, 3, padding="same", activation="relu")(inp)
    a = layers.Conv2D(2 * width, 3, padding="same", activation="relu")(stem)
    b = layers.Conv2D(width, 1, activation="relu")(stem)
    c = layers.Conv2D(width, 1, activation="relu")(layers.MaxPooling2D(3, strides=1, padding="same")(stem))
    x = layers.Concatenate()([a, b, c])
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(2 * width, 1)(x)
    y = layers.Conv2D(2 * width, 3, padding="same", activation="relu")(x)
    x = layers.Add()([x, y])
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(10)(x), name="branchy_cnn")


def npu_cnn() -> keras.Model:
    """An int8-friendly CNN Vela maps wholly to the NPU: conv, depthwise, pool, ADD."""
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    y = layers.Conv2D(8, 1)(y)
    x = layers.Add()([x, y])
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    return keras.Model(inp, layers.Conv2D(4, 1)(x), name="npu_cnn")


def sparse_mlp(rng: np.random.Generator) -> keras.Model:
    """[64] -> dense 128 -> dense 128 -> dense 10, the two large kernels 90%
    zeros in 1x4 blocks (the pattern the converter's sparsity option encodes)."""
    inp = keras.Input((64,), batch_size=1)
    first = layers.Dense(128, activation="relu")
    second = layers.Dense(128, activation="relu")
    x = second(first(inp))
    model = keras.Model(inp, layers.Dense(10)(x), name="sparse_mlp")
    for dense in (first, second):
        kernel, bias = dense.get_weights()
        blocks = rng.random((kernel.shape[0], kernel.shape[1] // 4)) < 0.1
        dense.set_weights([kernel * np.repeat(blocks, 4, axis=1), bias])
    return model


def keras_lstm() -> keras.Model:
    """[1, 8 steps, 4 features] -> LSTM 8 (sequence) -> LSTM 8 (last) -> dense 3."""
    inp = keras.Input((8, 4), batch_size=1)
    x = layers.LSTM(8, return_sequences=True)(inp)
    x = layers.LSTM(8)(x)
    return keras.Model(inp, layers.Dense(3)(x), name="keras_lstm")


def custom_op_cnn(seed: int) -> tf.types.experimental.PolymorphicFunction:
    """[1,8,8,4] -> conv -> two branches, one through BesselI0e (no builtin:
    a CUSTOM operator) -> concat -> conv."""
    rng = np.random.default_rng(seed)
    w0 = tf.constant(rng.normal(0, 0.3, (3, 3, 4, 8)).astype(np.float32))
    w1 = tf.constant(rng.normal(0, 0.3, (1, 1, 8, 16)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.3, (3, 3, 8, 4)).astype(np.float32))
    w3 = tf.constant(rng.normal(0, 0.3, (1, 1, 20, 6)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 4], tf.float32)])
    def net(x):
        stem = tf.nn.relu(tf.nn.conv2d(x, w0, 1, "SAME"))
        wide = tf.math.bessel_i0e(tf.nn.conv2d(stem, w1, 1, "SAME"))
        narrow = tf.nn.relu(tf.nn.conv2d(stem, w2, 1, "SAME"))
        return tf.nn.conv2d(tf.concat([wide, narrow], axis=3), w3, 1, "SAME")

    return net


# -- conversions --------------------------------------------------------------


def _seeded(build: Callable[[], keras.Model]) -> keras.Model:
    modelkit.seed_everything(SEED)
    model = build()
    modelkit.recalibrate(model, modelkit.random_inputs(modelkit.input_shape(model)[1:], 8, SEED + 1))
    return model


def _converter(model: keras.Model) -> tf.lite.TFLiteConverter:
    return tf.lite.TFLiteConverter.from_concrete_functions([modelkit.concrete_function(model)])


def _samples(model: keras.Model) -> np.ndarray:
    return modelkit.random_inputs(modelkit.input_shape(model)[1:], 32, SEED + 2)


def _float16(build: Callable[[], keras.Model]) -> bytes:
    """float16 weights: every constant becomes a DEQUANTIZE of a float16 buffer."""
    converter = _converter(_seeded(build))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def fp16_cnn(_vela: str | None) -> bytes:
    return _float16(branchy_cnn)


def fp16_darts(_vela: str | None) -> bytes:
    return _float16(lambda: zoo_nets.darts(cells=5, channels=8, input_size=16))


def dynamic_range_cnn(_vela: str | None) -> bytes:
    """Optimize.DEFAULT without data: int8 weights, float activations (hybrid kernels)."""
    converter = _converter(_seeded(branchy_cnn))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def int16x8_cnn(_vela: str | None) -> bytes:
    """int16 activations, int8 weights (float input and output, QUANTIZE/DEQUANTIZE at the edges)."""
    model = _seeded(branchy_cnn)
    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = _samples(model)
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return converter.convert()


def sparse_fc(_vela: str | None) -> bytes:
    """EXPERIMENTAL_SPARSITY on mostly-zero kernels: sparse constants read through DENSIFY."""
    modelkit.seed_everything(SEED)
    model = sparse_mlp(np.random.default_rng(SEED))
    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return converter.convert()


def lstm_float(_vela: str | None) -> bytes:
    """Keras 3's LSTM: the converter lowers it to WHILE loops (no fused LSTM)."""
    return _converter(_seeded(keras_lstm)).convert()


def fused_lstm_int8(_vela: str | None) -> bytes:
    """UNIDIRECTIONAL_SEQUENCE_LSTM (Keras 2's fused path) in int8: intermediates, variable state."""
    modelkit.seed_everything(SEED)
    module = fixture_nets.FusedLstm(SEED)
    function = module.__call__.get_concrete_function()
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures=function)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        samples = modelkit.random_inputs((module.steps, module.features), 32, SEED + 2)
        return modelkit.quantize_int8(converter, samples)


def custom_op(_vela: str | None) -> bytes:
    """A CUSTOM operator (BesselI0e, allow_custom_ops) on one branch of a small CNN."""
    modelkit.seed_everything(SEED)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([custom_op_cnn(SEED).get_concrete_function()])
    converter.allow_custom_ops = True
    return converter.convert()


def dynamic_batch(_vela: str | None) -> bytes:
    """``from_keras_model`` on a model with batch None: every activation's shape_signature starts with -1."""
    return tf.lite.TFLiteConverter.from_keras_model(_seeded(lambda: branchy_cnn(batch=None, width=8))).convert()


def vela(executable: str | None) -> bytes | None:
    """Arm Vela's output for an int8 CNN: one ``ethos-u`` CUSTOM operator and
    scratch tensors no operator writes (Ethos-U55-128, size-optimised)."""
    if executable is None:
        return None
    model = _seeded(npu_cnn)
    data = modelkit.to_int8_tflite(model, _samples(model))
    config = _vela_config(Path(executable))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "npu_cnn_int8.tflite"
        source.write_bytes(data)
        subprocess.run([executable, str(source), "--accelerator-config", "ethos-u55-128", "--optimise", "Size",
                        "--system-config", "Ethos_U55_High_End_Embedded", "--memory-mode", "Shared_Sram",
                        "--config", str(config), "--output-dir", folder],
                       check=True, capture_output=True, text=True)
        return (Path(folder) / "npu_cnn_int8_vela.tflite").read_bytes()


def _vela_config(executable: Path) -> Path:
    """The ``vela.ini`` that ships in the package beside ``executable``."""
    found = sorted(executable.resolve().parent.parent.glob("lib/python*/site-packages/ethosu/config_files/Arm/vela.ini"))
    if not found:
        raise SystemExit(f"no ethosu/config_files/Arm/vela.ini in the environment of {executable}")
    return found[0]


def realworld_models() -> list[RealWorldModel]:
    """All models, in build order."""
    return [
        RealWorldModel("fp16_cnn", "float16 weights",
                       "Branchy CNN (3 branches, concat, depthwise, residual ADD); float16 weights, each "
                       "read through a DEQUANTIZE to float32. TFLite Micro has no float16 DEQUANTIZE.", fp16_cnn,
                       expect=("litert",)),
        RealWorldModel("fp16_darts", "float16 weights",
                       "DARTS-V2 genotype (5 cells, C=8, 16x16, as darts_tiny) with float16 weights: the "
                       "converter puts all DEQUANTIZE operators first, so their float32 outputs are alive "
                       "together.", fp16_darts, expect=("litert",)),
        RealWorldModel("dynamic_range_cnn", "dynamic-range quantization",
                       "The same CNN with int8 weights and float32 activations (hybrid convolutions, which "
                       "TFLite Micro does not have).", dynamic_range_cnn, expect=("litert",)),
        RealWorldModel("int16x8_cnn", "int16x8 quantization",
                       "The same CNN with int16 activations and int8 weights, QUANTIZE/DEQUANTIZE at the edges.",
                       int16x8_cnn),
        RealWorldModel("sparse_fc", "sparse weights",
                       "MLP 64-128-128-10 whose two large kernels are 90% zero in 1x4 blocks, converted with "
                       "EXPERIMENTAL_SPARSITY: DENSIFY operators, which TFLite Micro does not have.", sparse_fc,
                       expect=("litert",)),
        RealWorldModel("keras_lstm_float", "Keras LSTM",
                       "Two stacked Keras 3 LSTM layers (8 steps, 8 units) and a dense head: WHILE loops "
                       "whose TensorList updates SLICE with sizes known only at run time. TFLite Micro runs "
                       "it but computes wrong outputs: it does not resize, and those SLICE outputs outgrow "
                       "their stored shape [1, 1, 1].", lstm_float, expect=("litert",)),
        RealWorldModel("fused_lstm_int8", "UNIDIRECTIONAL_SEQUENCE_LSTM, int8",
                       "A fused LSTM (the tagged tf.function of stateful_lstm_float) in full int8.",
                       fused_lstm_int8),
        RealWorldModel("custom_op", "custom operator",
                       "Conv stem, then a branch through BesselI0e (CUSTOM, no kernel anywhere) beside a conv "
                       "branch, concat, conv.", custom_op, expect=()),
        RealWorldModel("dynamic_batch", "dynamic batch (from_keras_model)",
                       "The branchy CNN (width 8) with batch None, converted by from_keras_model: "
                       "shape_signature [-1, ...].", dynamic_batch),
        RealWorldModel("vela", "Arm Vela (Ethos-U55)",
                       "An int8 CNN compiled by Vela 5.2 for Ethos-U55-128: one ethos-u CUSTOM operator, "
                       "scratch tensors nothing writes. Runs nowhere without an NPU.", vela, expect=()),
    ]


# -- manifest -----------------------------------------------------------------


def manifest_entry(item: RealWorldModel, path: Path) -> dict:
    """Pattern, description, structure and runtime results of one file (no timings)."""
    return {"pattern": item.pattern, "description": item.description, **modelcheck.checked(path, item.expect)}


def print_table(manifest: dict[str, dict]) -> None:
    """One line per file: size, runtimes, operator types."""
    print(f"{'file':36} {'bytes':>7}  {'litert':6} {'tflm':6} operators")
    for name, e in manifest.items():
        marks = ["ok" if e["checks"][r]["ok"] else "-" for r in modelcheck.RUNTIMES]
        ops = ", ".join(f"{k} {v}" for k, v in e["operator_types"].items())
        print(f"{name:36} {e['bytes']:7d}  {marks[0]:6} {marks[1]:6} {ops}")


def build(out: Path, items: list[RealWorldModel], manifest: dict[str, dict], executable: str | None) -> dict:
    """Make every file of ``items`` in ``out`` and update ``manifest`` with them."""
    for item in items:
        start = time.perf_counter()
        data = item.make(executable)
        path = out / f"{PREFIX}{item.stem}.tflite"
        if data is None:
            print(f"  {item.stem}: skipped (no --vela); keeping {path.name}" if path.exists()
                  else f"  {item.stem}: skipped (no --vela)", flush=True)
            continue
        path.write_bytes(data)
        manifest[path.name] = manifest_entry(item, path)
        print(f"  {item.stem}: {len(data)} bytes, {time.perf_counter() - start:.1f} s", flush=True)
    return dict(sorted(manifest.items()))


def main(argv: list[str] | None = None) -> int:
    """Build (default) or re-verify (``--check``) the real-world models; exit 1 on any problem."""
    parser = modelcheck.manifest_parser(__doc__.split("\n\n")[0], "models")
    parser.add_argument("--vela", metavar="PATH", help="the vela executable (without it the Vela model is skipped)")
    args = parser.parse_args(argv)
    return modelcheck.manifest_main(
        args.out / INDEX, args.check,
        lambda manifest: build(args.out, modelcheck.only(realworld_models(), args.only), manifest, args.vela),
        print_table)


if __name__ == "__main__":
    sys.exit(main())
