"""Write the test model of the WHILE-loop row strips: tests/data/loop_chain_int8.tflite.

A small MobileNetV2-like prefix (issue 20): a 64x64x3 input, a strided 3x3
stem, then inverted residual blocks (1x1 expansion, 3x3 depthwise, 1x1
projection), the last one with a residual ADD, global average pooling and a
Dense classifier, full-integer int8. Its 32x32 and 16x16 stretches are the
chains :mod:`tflite_serenity.rewrite.loop_strips` runs in a WHILE loop. The
weights come from a fixed seed; the same TensorFlow version writes the same
file.

Examples
--------
python -m scripts.models.make_loop_models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tensorflow import keras

from scripts import ROOT
from scripts.models import modelkit
from scripts.models.make_rewrite_models import record

layers = keras.layers
OUT = ROOT / "tests" / "data"
SEED = 20
NAME = "loop_chain_int8.tflite"


def _conv_bn_relu6(x, filters: int, kernel: int, stride: int = 1):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(6.0)(x)


def _inverted_residual(x, expansion: int, filters: int, stride: int):
    """MobileNetV2's block; a residual ADD when the shape stays."""
    y = _conv_bn_relu6(x, x.shape[-1] * expansion, 1) if expansion != 1 else x
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU(6.0)(y)
    y = layers.Conv2D(filters, 1, use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride == 1 and x.shape[-1] == filters:
        return layers.Add()([x, y])
    return y


def loop_chain(size: int = 64, classes: int = 10) -> keras.Model:
    """Stem 16 (stride 2), blocks (t=1, 8), (t=6, 12, stride 2), (t=6, 12) with a residual ADD.

    Examples
    --------
    >>> model = loop_chain()
    >>> model.inputs[0].shape, model.outputs[0].shape
    ((1, 64, 64, 3), (1, 10))
    """
    inputs = keras.Input((size, size, 3), batch_size=1)
    x = _conv_bn_relu6(inputs, 16, 3, 2)
    for expansion, filters, stride in ((1, 8, 1), (6, 12, 2), (6, 12, 1)):
        x = _inverted_residual(x, expansion, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes)(x)
    return keras.Model(inputs, outputs, name="loop_chain")


def make(out: Path) -> Path:
    modelkit.seed_everything(SEED)
    model = loop_chain()
    batch = modelkit.random_inputs(modelkit.input_shape(model)[1:], 16, SEED + 1)
    modelkit.recalibrate(model, batch)
    path = out / NAME
    path.write_bytes(modelkit.to_int8_tflite(model, batch))
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = make(args.out)
    print(f"wrote {path} ({path.stat().st_size} B)")
    record([path], args.out / "MANIFEST.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
