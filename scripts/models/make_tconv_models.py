"""Write the test models of the TRANSPOSE_CONV channel split into tests/data/tconv_*.tflite.

One small decoder, in float32, full int8 (per-channel) and 16x8::

    x (1x32x32x4) -> conv 3x3 -> skip (32x32x16)
                  -> conv 3x3 stride 2 -> (16x16x16)
                     -> TRANSPOSE_CONV 2x2 stride 2 SAME, bias -> (32x32x16)
    concat(skip, that) -> conv 1x1 stride 2 -> (16x16x8)
                       -> TRANSPOSE_CONV 3x3 stride 2 VALID, bias -> (33x33x20)
                       -> conv 1x1 -> (33x33x4)

The first TRANSPOSE_CONV feeds a channel concatenation alone (its pieces can
go straight in), the second a convolution (its pieces need a concatenation
of their own); 20 output channels are not a multiple of LiteRT's 8-channel
groups. In int8 and 16x8, TFLite Micro's scratch buffers for both (an int32
or int64 per output element) are the largest buffers of the model. Weights
come from a fixed seed: the same TensorFlow version writes the same files.

Examples
--------
python -m scripts.models.make_tconv_models     # the three files (~20 s)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tensorflow import keras  # noqa: E402

from scripts import ROOT  # noqa: E402
from scripts.models import modelkit  # noqa: E402
from scripts.models.make_rewrite_models import record  # noqa: E402

layers = keras.layers
OUT = ROOT / "tests" / "data"
SEED = 7


def decoder() -> keras.Model:
    """The model of the module docstring."""
    inp = keras.Input((32, 32, 4), batch_size=1)
    skip = layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)
    up = layers.Conv2DTranspose(16, 2, strides=2, padding="same")(x)
    x = layers.Conv2D(8, 1, strides=2, activation="relu")(layers.Concatenate()([skip, up]))
    x = layers.Conv2DTranspose(20, 3, strides=2, padding="valid")(x)
    return keras.Model(inp, layers.Conv2D(4, 1)(x), name="tconv")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    modelkit.seed_everything(SEED)
    model = decoder()
    shape = modelkit.input_shape(model)[1:]
    rng = np.random.default_rng(SEED)
    for layer in model.layers:  # a bias of zeros is left out by the converter: give them one
        if isinstance(layer, layers.Conv2DTranspose):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.uniform(-0.2, 0.2, bias.shape).astype(np.float32)])
    modelkit.recalibrate(model, modelkit.random_inputs(shape, 8, SEED + 1))
    samples = modelkit.random_inputs(shape, 32, SEED + 2)
    files = {"float": modelkit.to_float_tflite(model), "int8": modelkit.to_int8_tflite(model, samples),
             "int16": modelkit.to_int16x8_tflite(model, samples)}
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for variant, data in files.items():
        path = args.out / f"tconv_{variant}.tflite"
        path.write_bytes(data)
        written.append(path)
        print(f"wrote {path} ({len(data)} B)")
    record(written, args.out / "MANIFEST.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
