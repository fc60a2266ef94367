"""Turn untrained Keras models into healthy float32 and full-int8 .tflite files.

Shared by the model generators of this folder.  Two things matter:

* Conversion goes through a concrete function with a fixed ``[1, ...]``
  input and no trackable object, which gives static batch-1 graphs without
  leftover VAR_HANDLE/READ_VARIABLE operators.
* With ``weights=None`` activations shrink or blow up through deep nets, and
  int8 models then have degenerate scales (TFLite Micro's int8 SOFTMAX even
  aborts).  ``recalibrate`` re-estimates every BatchNormalization on a random
  batch and rescales the final Dense layer so the logits have a sane spread.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402


def seed_everything(seed: int) -> None:
    """Reset Keras's layer-name counters, seed Python, numpy and TensorFlow,
    and ask TF for deterministic kernels.

    Layer names end up in tensor names, so without the reset a model's bytes
    would depend on what was built before it in the same process.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def random_inputs(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    """``count`` float32 samples of ``shape`` drawn uniformly from [-1, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(count, *shape)).astype(np.float32)


def input_shape(model: keras.Model) -> tuple[int, ...]:
    """The model's single input shape with the batch fixed to 1."""
    shape = (1, *model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"{model.name}: input shape {shape} is not static")
    return shape


def _walk_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model``, descending into nested models, iteratively."""
    stack = list(reversed(model.layers))
    while stack:
        layer = stack.pop()
        yield layer
        stack.extend(reversed(getattr(layer, "layers", [])))


def reestimate_batchnorm(model: keras.Model, batch: np.ndarray) -> int:
    """Set every BatchNormalization's moving statistics to those of ``batch``.

    One training-mode pass with momentum 0 does it in a single forward pass:
    each BN normalises with the batch statistics and stores exactly them, so
    later layers see what inference will show them.  Dropout is switched off
    for the pass.  Returns the number of BN layers updated.
    """
    norms = [l for l in _walk_layers(model) if isinstance(l, keras.layers.BatchNormalization)]
    drops = [l for l in _walk_layers(model) if isinstance(l, keras.layers.Dropout)]
    momenta, rates = [l.momentum for l in norms], [l.rate for l in drops]
    try:
        for layer in norms:
            layer.momentum = 0.0
        for layer in drops:
            layer.rate = 0.0
        model(batch, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        for layer, rate in zip(drops, rates):
            layer.rate = rate
    return len(norms)


def rescale_classifier(model: keras.Model, batch: np.ndarray, logit_std: float = 4.0) -> bool:
    """Scale the last Dense layer so its pre-activation output has std ``logit_std``.

    Keeps softmax inputs spread out: untrained logits are either tiny (int8
    scale underflow) or tied.  The bias is zeroed.  Returns False when the
    model has no Dense layer.
    """
    dense = [l for l in _walk_layers(model) if isinstance(l, keras.layers.Dense)]
    if not dense:
        return False
    last = dense[-1]
    features = keras.Model(model.inputs[0], last.input)(batch, training=False)
    kernel, *rest = last.get_weights()
    logits = np.tensordot(np.asarray(features), kernel, axes=1)
    scale = logit_std / max(float(logits.std()), 1e-12)
    last.set_weights([kernel * scale] + [np.zeros_like(b) for b in rest])
    return True


def recalibrate(model: keras.Model, batch: np.ndarray) -> None:
    """Make an untrained model's activations healthy for int8: BN stats, then logits."""
    reestimate_batchnorm(model, batch)
    rescale_classifier(model, batch)


def concrete_function(model: keras.Model) -> tf.types.experimental.ConcreteFunction:
    """Inference-mode concrete function of ``model`` for its static input shape."""
    spec = tf.TensorSpec(input_shape(model), tf.float32)
    return tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)


def to_float_tflite(model: keras.Model) -> bytes:
    """Float32 .tflite of a Keras model with a static batch-1 input."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete_function(model)])
    return converter.convert()


def to_int8_tflite(model: keras.Model, samples: np.ndarray) -> bytes:
    """Full-integer .tflite (int8 in, int8 out, TFLITE_BUILTINS_INT8 only).

    ``samples`` (leading axis = sample) is the representative data set used
    to calibrate activation ranges.
    """
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete_function(model)])
    return quantize_int8(converter, samples)


def quantize_int8(converter: tf.lite.TFLiteConverter, samples: np.ndarray) -> bytes:
    """Configure ``converter`` for full int8 with ``samples`` as calibration data, and convert."""
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def to_int16x8_tflite(model: keras.Model, samples: np.ndarray) -> bytes:
    """16x8 .tflite: int16 activations (in and out), int8 weights
    (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 only)."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete_function(model)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = tf.int16
    converter.inference_output_type = tf.int16
    return converter.convert()


def convert_via_saved_model(module: tf.Module, function) -> bytes:
    """Convert ``function`` of ``module`` through a temporary SavedModel.

    This path keeps functions tagged for fusion (``api_implements``) and
    resource variables, which the plain concrete-function path inlines or
    freezes.
    """
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures=function)
        return tf.lite.TFLiteConverter.from_saved_model(folder).convert()
