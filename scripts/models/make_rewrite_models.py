"""Write the small test models of the graph rewriter into tests/data/rewrite_*.tflite.

Each model holds one pattern the rewriter handles (a channel concatenation
feeding a depthwise convolution, pooling, per-channel arithmetic, a global
mean, a convolution or a fully connected layer), in float32 and full int8.
Branches have odd channel counts on purpose, so that sliced weights do not
fall on SIMD-friendly widths. Weights come from fixed seeds: the same
TensorFlow version writes the same files.

Examples
--------
python -m scripts.models.make_rewrite_models              # all models (~30 s)
python -m scripts.models.make_rewrite_models --only depthwise,conv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402

from scripts import ROOT  # noqa: E402
from scripts.models import modelcheck, modelkit  # noqa: E402

layers = keras.layers
OUT = ROOT / "tests" / "data"
SEED = 5


def _branches(x, widths, kernel=1):
    """Parallel convolutions of ``x`` with the given output widths (ReLU)."""
    return [layers.Conv2D(w, kernel, padding="same", activation="relu")(x) for w in widths]


def depthwise() -> keras.Model:
    """Concat of three branches (8, 8, 5 channels) -> strided DEPTHWISE_CONV_2D (bias, ReLU6).

    The depthwise output is a quarter of the concat, so moving the concat
    below it pays: the exact rewrite lowers the peak. (In int8, branches
    before the last have multiples of 8 channels: see ``_lanes_match`` in
    ``tflite_serenity/rewrite/sites.py``.)
    """
    inp = keras.Input((16, 16, 4), batch_size=1)
    joined = layers.Concatenate()(_branches(inp, (8, 8, 5)))
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(joined)
    return keras.Model(inp, layers.Conv2D(6, 1)(x), name="rewrite_depthwise")


def depthwise_flat() -> keras.Model:
    """Concat -> DEPTHWISE_CONV_2D with stride 1 -> Conv: moving the concat below
    the depthwise convolution does not lower the peak (the concat of its
    outputs is as large), so the rewriter must leave it."""
    inp = keras.Input((12, 12, 4), batch_size=1)
    joined = layers.Concatenate()(_branches(inp, (6, 6)))
    x = layers.DepthwiseConv2D(3, padding="same")(joined)
    return keras.Model(inp, layers.Conv2D(4, 1)(x), name="rewrite_depthwise_flat")


def pool() -> keras.Model:
    """Concat -> MAX_POOL_2D 2x2 and concat -> AVERAGE_POOL_2D 2x2, then a conv each."""
    inp = keras.Input((16, 16, 3), batch_size=1)
    first = layers.Concatenate()(_branches(inp, (7, 5)))
    a = layers.MaxPooling2D(2)(first)
    second = layers.Concatenate()(_branches(inp, (3, 6, 4)))
    b = layers.AveragePooling2D(2)(second)
    return keras.Model(inp, layers.Conv2D(4, 1)(layers.Add()([layers.Conv2D(8, 1)(a), layers.Conv2D(8, 1)(b)])),
                       name="rewrite_pool")


def elementwise() -> keras.Model:
    """Concat -> BatchNorm (per-channel MUL and ADD) -> LeakyReLU -> strided depthwise.

    A chain of per-channel operators: the concat only pays to move once it
    has passed all of them and the strided depthwise convolution.
    """
    inp = keras.Input((16, 16, 4), batch_size=1)
    x = layers.Concatenate()(_branches(inp, (8, 7)))
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.1)(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
    return keras.Model(inp, layers.Conv2D(4, 1)(x), name="rewrite_elementwise")


def mean() -> keras.Model:
    """Concat -> global average pool (MEAN) -> Dense (FULLY_CONNECTED) -> softmax."""
    inp = keras.Input((12, 12, 4), batch_size=1)
    x = layers.Concatenate()(_branches(inp, (9, 6, 5), kernel=3))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x), name="rewrite_mean")


def conv() -> keras.Model:
    """Concat of three branches -> CONV_2D 3x3 with fused ReLU (channel-wise site),
    and a concat -> ReLU -> CONV_2D 1x1 (kernel-wise then channel-wise)."""
    inp = keras.Input((12, 12, 4), batch_size=1)
    x = layers.Concatenate()(_branches(inp, (10, 7, 9)))
    x = layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = layers.Concatenate()([layers.Conv2D(11, 3, padding="same")(x), layers.Conv2D(13, 1)(x)])
    y = layers.ReLU()(y)
    return keras.Model(inp, layers.Conv2D(5, 1)(y), name="rewrite_conv")


def dense() -> keras.Model:
    """Concat of three Dense branches -> Dense (FULLY_CONNECTED, channel-wise site)."""
    inp = keras.Input((24,), batch_size=1)
    x = layers.Concatenate()([layers.Dense(w, activation="relu")(inp) for w in (40, 33, 51)])
    return keras.Model(inp, layers.Dense(7)(x), name="rewrite_dense")


def nested() -> keras.Model:
    """A concat feeding a second concat (which adds a third branch) and a ReLU;
    each is followed by a max pool. Moving the inner concat merges its inputs
    into the outer one."""
    inp = keras.Input((12, 12, 4), batch_size=1)
    a, b, c = _branches(inp, (8, 8, 5))
    inner = layers.Concatenate()([a, b])
    outer = layers.Concatenate()([inner, c])
    x1 = layers.Conv2D(4, 1)(layers.MaxPooling2D(2)(outer))
    x2 = layers.Conv2D(4, 1)(layers.MaxPooling2D(2)(layers.ReLU()(inner)))
    return keras.Model(inp, layers.Add()([x1, x2]), name="rewrite_nested")


MODELS: dict[str, Callable[[], keras.Model]] = {
    "depthwise": depthwise,
    "depthwise_flat": depthwise_flat,
    "pool": pool,
    "elementwise": elementwise,
    "mean": mean,
    "conv": conv,
    "dense": dense,
    "nested": nested,
}


def _samples(shape, count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(count, *shape)).astype(np.float32)


def _settle_batchnorm(model: keras.Model, batch: np.ndarray) -> None:
    """Give BatchNormalization layers non-trivial statistics (untrained ones are the identity)."""
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean_, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                rng.uniform(-0.3, 0.3, beta.shape).astype(np.float32),
                rng.uniform(-0.2, 0.2, mean_.shape).astype(np.float32),
                rng.uniform(0.5, 2.0, var.shape).astype(np.float32),
            ])


def convert(model: keras.Model, int8: bool) -> bytes:
    """Float32 or full-int8 .tflite through a batch-1 concrete function (modelkit's recipe)."""
    if not int8:
        return modelkit.to_float_tflite(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([modelkit.concrete_function(model)])
    return modelkit.quantize_int8(converter, _samples(tuple(model.inputs[0].shape[1:]), 16, SEED + 1))


def make(name: str, out: Path) -> list[Path]:
    keras.utils.set_random_seed(SEED)
    model = MODELS[name]()
    _settle_batchnorm(model, None)
    written = []
    for variant in ("float", "int8"):
        path = out / f"rewrite_{name}_{variant}.tflite"
        path.write_bytes(convert(model, variant == "int8"))
        written.append(path)
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated model names: " + ",".join(MODELS))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--manifest-only", action="store_true", help="only (re)describe existing files in MANIFEST.json")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        if args.manifest_only:
            written += [args.out / f"rewrite_{name}_{v}.tflite" for v in ("float", "int8")]
            continue
        for path in make(name, args.out):
            written.append(path)
            print(f"wrote {path.relative_to(args.out.parent.parent) if args.out == OUT else path} "
                  f"({path.stat().st_size} B)")
    record(written, args.out / "MANIFEST.json")
    return 0


def record(paths: list[Path], index: Path) -> None:
    """Describe the files in the shared MANIFEST.json (structure and which runtimes
    run them, checked in child processes), as make_test_models.py does for its own."""
    manifest = json.loads(index.read_text()) if index.exists() else {}
    for path in paths:
        checks = {rt: {k: v for k, v in r.items() if k != "seconds"} for rt, r in modelcheck.check_all(path).items()}
        manifest[path.name] = {"description": f"rewrite site: {path.stem}", **modelcheck.describe(path.read_bytes()),
                               "runs_in": modelcheck.runs_in(checks), "checks": checks,
                               "expected_runtimes": ["litert", "tflm"]}
        print(f"{path.name}: runs in {manifest[path.name]['runs_in']}")
    index.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
