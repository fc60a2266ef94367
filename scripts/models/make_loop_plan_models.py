"""Write the test models of row strips run in a WHILE loop (issue 20) into tests/data/loops/.

``loop_prefix_int8.tflite`` is a MobileNetV2-like prefix at 64x64, full
int8::

    x (1x64x64x3) -> conv 3x3 stride 2, ReLU6 -> (32x32x16)
                  -> inverted residual: expand 1x1 (x6), depthwise 3x3, project 1x1 -> (32x32x16)
                     + the block's input (residual ADD)
                  -> inverted residual, depthwise stride 2 -> (16x16x24)
                  -> conv 1x1 -> (16x16x32)

``loop_strips_int8.tflite`` is that model with its first eight operators
(the stem and the residual block) computed in 8 row strips, the middle six
of them as one WHILE body, by the issue-20 spike
(``scripts/tools/while_strips_experiment.py``, ``--region 0:8:8``): the
body reads its rows of the input with SLICE at a loop-carried begin and
writes its band into a loop-carried accumulator with DYNAMIC_UPDATE_SLICE,
and an offline plan pins every copy of each loop-carried map (WHILE input
and output, the condition's and body's inputs, the body's output, the
in-place DYNAMIC_UPDATE_SLICE outputs) to one offset; TFLite Micro places
every other tensor. Weights come from a fixed seed.

They live in a folder of their own: the tests that run the whole command on
every model of tests/data expect each order to be proven optimal, and the
loop model's stored plan (aliased copies) beats any plan made anew, so the
command hands it back in its stored order.

Examples
--------
python -m scripts.models.make_loop_plan_models     # both files (~15 s)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tensorflow import keras  # noqa: E402

from scripts import ROOT  # noqa: E402
from scripts.models import modelkit  # noqa: E402

layers = keras.layers
OUT = ROOT / "tests" / "data" / "loops"
SEED = 20
REGION = (0, 8, 8)
"""Operators ``[0, 8)`` of the prefix in 8 row strips (the spike's ``--region 0:8:8``)."""


def _inverted_residual(x, expand: int, out: int, stride: int):
    y = layers.Conv2D(x.shape[-1] * expand, 1, use_bias=False)(x)
    y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
    y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(out, 1, use_bias=False)(y))
    return layers.Add()([x, y]) if stride == 1 and out == x.shape[-1] else y


def prefix() -> keras.Model:
    """The model of the module docstring."""
    inp = keras.Input((64, 64, 3), batch_size=1)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = _inverted_residual(x, 6, 16, 1)
    x = _inverted_residual(x, 6, 24, 2)
    x = layers.Conv2D(32, 1, activation="relu")(x)
    return keras.Model(inp, x, name="loop_prefix")


def loop_model(data: bytes) -> bytes:
    """``data`` with :data:`REGION` in row strips run in a WHILE loop, with the aliasing offline plan."""
    from scripts.tools.while_strips_experiment import loopify, with_alias_plan
    from tflite_serenity.model.io import read_model, write_model

    model, _ = loopify(read_model(data), *REGION)
    model, _ = with_alias_plan(model)
    return write_model(model)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    modelkit.seed_everything(SEED)
    model = prefix()
    shape = modelkit.input_shape(model)[1:]
    modelkit.recalibrate(model, modelkit.random_inputs(shape, 8, SEED + 1))
    base = modelkit.to_int8_tflite(model, modelkit.random_inputs(shape, 32, SEED + 2))
    files = {"loop_prefix_int8": base, "loop_strips_int8": loop_model(base)}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = args.out / f"{name}.tflite"
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
