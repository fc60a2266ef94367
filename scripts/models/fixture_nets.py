"""Small networks for the committed test models in ``tests/data/``.

Each Keras builder returns a model with a fixed batch-1 input; each
``*_function`` builder returns a ``tf.function`` (or a module holding one)
for graphs that Keras does not make: control flow, resource variables, a
fused LSTM with variable state tensors and an operator with no builtin.
Weights come from a numpy Generator or Keras's seeded initializers, so the
same seed gives the same model.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

layers = keras.layers


def _matrix(rng: np.random.Generator, rows: int, cols: int, scale: float = 0.5) -> tf.Tensor:
    """A constant float32 matrix with N(0, scale^2) entries."""
    return tf.constant(rng.normal(0.0, scale, size=(rows, cols)).astype(np.float32))


def tiny_branch() -> keras.Model:
    """[1,8,8,4] -> CONV_2D 3x3 (6 ch) and CONV_2D 1x1 (2 ch) -> CONCATENATION -> CONV_2D 1x1 (3 ch).

    Float32 activation sizes: input 1024 B, branches 1536 B and 512 B,
    concat 2048 B, output 768 B.
    """
    inp = keras.Input((8, 8, 4), batch_size=1)
    wide = layers.Conv2D(6, 3, padding="same")(inp)
    narrow = layers.Conv2D(2, 1)(inp)
    joined = layers.Concatenate()([wide, narrow])
    return keras.Model(inp, layers.Conv2D(3, 1)(joined), name="tiny_branch")


def small_cnn() -> keras.Model:
    """Conv + BN + ReLU, depthwise conv, 1x1 conv, max and average pooling, dense + softmax."""
    inp = keras.Input((32, 32, 3), batch_size=1)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2D(16, 1, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    out = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out, name="small_cnn")


def irregular() -> keras.Model:
    """Branches, ADD, and channel concats feeding a CONV_2D and a DEPTHWISE_CONV_2D.

    The converter emits operators depth-first from the output, visiting
    each operator's inputs in order.  Here every first input is a cheap
    early branch (``extra``, ``side``, ``wide``) that then waits while the
    second input's 96-channel expansion is computed, so the stored order
    holds them all live at once.  Computing the expansion first and the
    waiting branches last needs about 30% less activation memory.
    """
    inp = keras.Input((16, 16, 4), batch_size=1)
    stem = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    extra = layers.Conv2D(16, 1, activation="relu")(stem)
    side = layers.Conv2D(16, 3, padding="same", activation="relu")(stem)
    wide = layers.Conv2D(24, 1, activation="relu")(stem)
    big = layers.Conv2D(96, 1, activation="relu")(stem)
    small = layers.Conv2D(8, 3, padding="same", activation="relu")(big)
    mixed = layers.Conv2D(16, 1)(layers.Concatenate()([wide, small]))  # concat -> CONV_2D
    added = layers.Add()([side, mixed])
    joined = layers.Concatenate()([extra, added])
    spatial = layers.DepthwiseConv2D(3, padding="same")(joined)  # concat -> DEPTHWISE_CONV_2D
    return keras.Model(inp, layers.Conv2D(8, 1)(spatial), name="irregular")


def inplace_blocks() -> keras.Model:
    """A residual ADD, a SUB and a squeeze-and-excite MUL (its scale
    broadcast over the pixels), each reading a 16-channel map that dies
    there: with the output written over that map, every step holds two
    maps instead of three (1.5x lower peak)."""
    inp = keras.Input((16, 16, 4), batch_size=1)
    a = layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    b = layers.Conv2D(16, 3, padding="same")(a)
    residual = layers.Add()([b, a])  # b's only reader
    c = layers.Conv2D(16, 1)(residual)
    difference = layers.Subtract()([c, residual])  # c's only reader
    scale = layers.GlobalAveragePooling2D(keepdims=True)(residual)
    scale = layers.Conv2D(16, 1, activation="sigmoid")(scale)
    excited = layers.Multiply()([difference, scale])  # difference's only reader; scale is [1, 1, 1, 16]
    return keras.Model(inp, layers.Conv2D(4, 1)(excited), name="inplace_blocks")


def pad_crop() -> keras.Model:
    """NASNet's one-pixel shift (ZeroPadding2D then Cropping2D: a PAD read only
    by a STRIDED_SLICE, which may crop first) beside a PAD read twice (by a
    crop and by a convolution, so it must stay whole)."""
    inp = keras.Input((16, 16, 4), batch_size=1)
    a = layers.Conv2D(16, 1, activation="relu")(inp)
    shifted = layers.Cropping2D(((1, 0), (1, 0)))(layers.ZeroPadding2D(((0, 1), (0, 1)))(a))
    left = layers.AveragePooling2D(1, strides=2)(a)
    right = layers.AveragePooling2D(1, strides=2)(shifted)
    padded = layers.ZeroPadding2D(1)(a)
    framed = layers.Cropping2D(((0, 2), (0, 2)))(padded)
    smooth = layers.Conv2D(8, 3, strides=2)(padded)
    corner = layers.AveragePooling2D(2)(framed)
    joined = layers.Concatenate()([left, right, corner, smooth])
    return keras.Model(inp, layers.Conv2D(8, 1)(joined), name="pad_crop")


class _AddPerPixel(layers.Layer):
    """Adds a learned constant of the map's whole shape: a different value at every pixel."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=tuple(input_shape[1:]), name="per_pixel",
                                     initializer=keras.initializers.RandomNormal(stddev=0.5))

    def call(self, x):
        return x + self.table


def per_pixel_constant() -> keras.Model:
    """A 16x16 map plus a constant of its whole shape ([16, 16, 8]), between
    convolutions: the ADD's constant differs per row, so no strip may take it
    whole."""
    inp = keras.Input((16, 16, 4), batch_size=1)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = _AddPerPixel()(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    return keras.Model(inp, layers.Conv2D(4, 1)(x), name="per_pixel_constant")


def weight_heavy() -> keras.Model:
    """Two convolutions and a dense layer, each with over 1024 weights, so the
    converter's weight-only modes (float16 weights, dynamic-range int8)
    convert every one of them."""
    inp = keras.Input((16, 16, 8), batch_size=1)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inp)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(10)(x), name="weight_heavy")


def dynamic_batch() -> keras.Model:
    """A small conv net whose batch dimension is left unspecified (None)."""
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(5)(x), name="dynamic_batch")


def while_function(seed: int) -> tf.types.experimental.PolymorphicFunction:
    """[1,8] -> three iterations of h = relu(h W + b) in a tf.while_loop (WHILE op)."""
    rng = np.random.default_rng(seed)
    weight, bias = _matrix(rng, 8, 8), _matrix(rng, 1, 8, 0.1)

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def loop(x):
        def body(i, h):
            return i + 1, tf.nn.relu(tf.matmul(h, weight) + bias)

        _, h = tf.while_loop(lambda i, h: i < 3, body, [tf.constant(0), x])
        return h

    return loop


def scratch_kernels_function(seed: int) -> tf.types.experimental.PolymorphicFunction:
    """[1,8,8,8] -> conv -> MIRROR_PAD -> conv, then SUM, REDUCE_MAX and
    REDUCE_MIN over the map and ADD_N of three vectors: the kernels that ask
    TFLite Micro for scratch buffers (arena/scratch.py)."""
    rng = np.random.default_rng(seed)
    first = tf.constant(rng.normal(0.0, 0.3, size=(3, 3, 8, 8)).astype(np.float32))
    second = tf.constant(rng.normal(0.0, 0.3, size=(3, 3, 8, 8)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 8], tf.float32)])
    def reduce(x):
        h = tf.nn.relu(tf.nn.conv2d(x, first, 1, "SAME"))
        h = tf.nn.relu(tf.nn.conv2d(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT"), second, 1, "VALID"))
        total = tf.reduce_sum(h, axis=[1, 2]) * 0.05
        return tf.add_n([total, tf.reduce_max(h, axis=[1, 2]), tf.reduce_min(x, axis=[1, 2])])

    return reduce


def if_function(seed: int) -> tf.types.experimental.PolymorphicFunction:
    """[1,8] -> relu(x W) if mean(x) > 0 else tanh(x W + b), via tf.cond (IF op)."""
    rng = np.random.default_rng(seed)
    weight, bias = _matrix(rng, 8, 8), _matrix(rng, 1, 8, 0.1)

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def branch(x):
        return tf.cond(
            tf.reduce_mean(x) > 0,
            lambda: tf.nn.relu(tf.matmul(x, weight)),
            lambda: tf.tanh(tf.matmul(x, weight) + bias),
        )

    return branch


def custom_op_function(seed: int) -> tf.types.experimental.PolymorphicFunction:
    """[1,8] -> matmul -> BesselI1e (no TFLite builtin, becomes CUSTOM) -> matmul."""
    rng = np.random.default_rng(seed)
    first, second = _matrix(rng, 8, 8), _matrix(rng, 8, 4)

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def custom(x):
        return tf.matmul(tf.math.bessel_i1e(tf.matmul(x, first)), second)

    return custom


class Accumulator(tf.Module):
    """A model with resource-variable state: s <- s/2 + x W; output relu(s).

    Converted, it holds VAR_HANDLE, READ_VARIABLE and ASSIGN_VARIABLE
    operators and a CALL_ONCE initialisation subgraph.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.weight = _matrix(np.random.default_rng(seed), 8, 8)
        self.state = tf.Variable(tf.zeros([1, 8]), name="state")

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def __call__(self, x):
        self.state.assign(0.5 * self.state + tf.matmul(x, self.weight))
        return tf.nn.relu(self.state.read_value())


class FusedLstm(tf.Module):
    """[1, steps, features] -> LSTM (full sequence) -> dense on the last step.

    The LSTM is a ``tf.function`` tagged like Keras 2's LSTM
    (``api_implements = "lstm_..."``, ``time_major``, ``go_backwards``) with
    Keras's argument order (inputs, init_h, init_c, kernel, recurrent_kernel,
    bias) and 5 results.  The converter swaps such a function for one
    UNIDIRECTIONAL_SEQUENCE_LSTM whose two state tensors are variable tensors
    (``is_variable``).  Gate order i, f, c, o as in Keras.  The body below is
    what runs in TensorFlow and must match the fused kernel.
    """

    steps, features, units = 6, 4, 8

    def __init__(self, seed: int):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.kernel = _matrix(rng, self.features, 4 * self.units)
        self.recurrent = _matrix(rng, self.units, 4 * self.units)
        self.bias = _matrix(rng, 1, 4 * self.units, 0.1)[0]
        self.head = _matrix(rng, self.units, 3)
        self.lstm = tf.function(
            self._lstm,
            autograph=False,
            experimental_attributes={
                "api_implements": "lstm_serenity_test",
                "api_preferred_device": "CPU",
                "time_major": False,
                "go_backwards": False,
            },
        )

    def _lstm(self, inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        """Unrolled LSTM; returns (last output, sequence, h, c, runtime) like Keras 2."""
        h, c, outputs = init_h, init_c, []
        for t in range(self.steps):
            gates = tf.matmul(inputs[:, t], kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(gates, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            outputs.append(h)
        return h, tf.stack(outputs, axis=1), h, c, tf.constant(1.0)

    @tf.function(input_signature=[tf.TensorSpec([1, steps, features], tf.float32)])
    def __call__(self, x):
        zeros = tf.zeros([1, self.units])
        _, sequence, _, _, _ = self.lstm(x, zeros, zeros, self.kernel, self.recurrent, self.bias)
        return tf.matmul(sequence[:, -1], self.head)
