"""Keras builders for irregularly wired benchmark networks.

The optimizer is only interesting on graphs where many operator orders are
valid and their peak activation memory differs.  The networks here supply
such graphs: randomly wired nets (RandWire), a NAS cell net (DARTS-V2),
Inception-style multi-branch blocks, a U-Net with long skip connections and
a small transformer encoder.  Each builder is deterministic for a given
seed (call ``keras.utils.set_random_seed`` first for the weights) and returns
a functional ``keras.Model`` with a fixed batch-1 input.

Weights are untrained; the models exist for their structure and tensor
sizes, not their accuracy.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from tensorflow import keras

layers = keras.layers
Edge = tuple[int, int]


# --------------------------------------------------------------------------
# Random graphs (RandWire, Xie et al. 2019, "Exploring Randomly Wired Neural
# Networks for Image Recognition"), generated with numpy only.
# --------------------------------------------------------------------------


def watts_strogatz_edges(n: int, k: int, p: float, rng: np.random.Generator) -> list[Edge]:
    """Edges of a Watts-Strogatz small-world graph, oriented low -> high index.

    Start from a ring where each node links to its ``k/2`` nearest neighbours
    on each side; then, for every clockwise edge ``(u, u+j)`` in turn
    (``j = 1..k/2``, all ``u``), with probability ``p`` move its far end to a
    node chosen uniformly among those not yet linked to ``u``.  Orienting
    every edge from the lower to the higher node index makes a DAG, as the
    paper does.

    Examples
    --------
    >>> edges = watts_strogatz_edges(8, 4, 0.0, np.random.default_rng(0))
    >>> len(edges), edges[:3]
    (16, [(0, 1), (0, 2), (0, 6)])
    """
    if k % 2 or not 0 < k < n:
        raise ValueError(f"k must be even and 0 < k < n, got n={n}, k={k}")
    linked = [set() for _ in range(n)]
    for u in range(n):
        for j in range(1, k // 2 + 1):
            v = (u + j) % n
            linked[u].add(v)
            linked[v].add(u)
    for j in range(1, k // 2 + 1):
        for u in range(n):
            if rng.random() >= p:
                continue
            free = [w for w in range(n) if w != u and w not in linked[u]]
            if not free:
                continue
            v, w = (u + j) % n, free[rng.integers(len(free))]
            linked[u].discard(v)
            linked[v].discard(u)
            linked[u].add(w)
            linked[w].add(u)
    return sorted({(min(u, v), max(u, v)) for u in range(n) for v in linked[u]})


def erdos_renyi_edges(n: int, p: float, rng: np.random.Generator) -> list[Edge]:
    """Edges of an Erdos-Renyi G(n, p) graph, each pair kept with probability p.

    Examples
    --------
    >>> erdos_renyi_edges(4, 1.0, np.random.default_rng(0))
    [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    """
    return [(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < p]


class WeightedSum(layers.Layer):
    """Sum of inputs weighted by learned positive scalars, sigmoid(w_i) * x_i.

    This is RandWire's aggregation: the sigmoid keeps each edge's weight
    positive.  In TFLite it becomes one MUL per input and a chain of ADDs.
    """

    def build(self, input_shape):
        self.logits = self.add_weight(
            shape=(len(input_shape),),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="edge_logits",
        )

    def call(self, inputs):
        weights = keras.ops.sigmoid(self.logits)
        total = inputs[0] * weights[0]
        for i, x in enumerate(inputs[1:], start=1):
            total = total + x * weights[i]
        return total


def _relu_sepconv_bn(x, channels: int, stride: int):
    """RandWire's node transform: ReLU, 3x3 separable convolution, BN."""
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(channels, 3, strides=stride, padding="same", use_bias=False)(x)
    return layers.BatchNormalization()(x)


def _aggregate(inputs: list, weighted: bool):
    """Combine a node's inputs: as they are when single, else a (weighted) sum."""
    if len(inputs) == 1:
        return inputs[0]
    return WeightedSum()(inputs) if weighted else layers.Add()(inputs)


def randwire_stage(x, edges: Sequence[Edge], n: int, channels: int, weighted: bool = True):
    """One RandWire stage: a random DAG of ``n`` nodes between stage input and output.

    Nodes without predecessors read the stage input with stride 2 (the
    paper's extra input node only broadcasts); the stage output is the
    plain average of the nodes without successors (the extra output node).
    """
    preds: list[list[int]] = [[] for _ in range(n)]
    has_succ = [False] * n
    for u, v in edges:
        preds[v].append(u)
        has_succ[u] = True
    outs = []
    for v in range(n):
        if preds[v]:
            agg, stride = _aggregate([outs[u] for u in preds[v]], weighted), 1
        else:
            agg, stride = x, 2
        outs.append(_relu_sepconv_bn(agg, channels, stride))
    sinks = [outs[v] for v in range(n) if not has_succ[v]]
    return sinks[0] if len(sinks) == 1 else layers.Average()(sinks)


def randwire(
    graph: str = "ws",
    nodes: int = 32,
    channels: int = 32,
    stages: int = 2,
    input_size: int = 64,
    classes: int = 100,
    seed: int = 0,
    weighted: bool = True,
    ws_k: int = 4,
    ws_p: float = 0.75,
    er_p: float = 0.2,
) -> keras.Model:
    """RandWire network in the paper's small regime, with fewer stages.

    conv1 (3x3 stride 2, C/2, BN), conv2 (ReLU-conv3x3 stride 2-BN, C), then
    ``stages`` random-graph stages with C, 2C, 4C channels (each its own
    graph drawn from ``seed``), then ReLU, 1x1 conv, global pool and a
    classifier.  ``graph`` is ``"ws"`` (Watts-Strogatz, K=4, P=0.75) or
    ``"er"`` (Erdos-Renyi, P=0.2).
    """
    rng = np.random.default_rng(seed)
    inp = keras.Input((input_size, input_size, 3), batch_size=1)
    x = layers.Conv2D(channels // 2, 3, strides=2, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(channels, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    for stage in range(stages):
        if graph == "ws":
            edges = watts_strogatz_edges(nodes, ws_k, ws_p, rng)
        elif graph == "er":
            edges = erdos_renyi_edges(nodes, er_p, rng)
        else:
            raise ValueError(f"unknown graph kind {graph!r}")
        x = randwire_stage(x, edges, nodes, channels * 2**stage, weighted)
    x = layers.ReLU()(x)
    x = layers.Conv2D(4 * channels * 2 ** (stages - 1), 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out, name=f"randwire_{graph}")


# --------------------------------------------------------------------------
# DARTS (Liu et al. 2019, "DARTS: Differentiable Architecture Search"),
# evaluation network built from the DARTS-V2 genotype.
# --------------------------------------------------------------------------


class Genotype(NamedTuple):
    """A DARTS cell: pairs (operation, input state index), two per new node."""

    normal: tuple[tuple[str, int], ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[tuple[str, int], ...]
    reduce_concat: tuple[int, ...]


DARTS_V2 = Genotype(
    normal=(
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0),
        ("skip_connect", 0), ("dil_conv_3x3", 2),
    ),
    normal_concat=(2, 3, 4, 5),
    reduce=(
        ("max_pool_3x3", 0), ("max_pool_3x3", 1),
        ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2),
        ("skip_connect", 2), ("max_pool_3x3", 1),
    ),
    reduce_concat=(2, 3, 4, 5),
)


def _relu_conv_bn(x, channels: int, kernel: int = 1, stride: int = 1):
    """ReLU, plain convolution, BN: DARTS's state preprocessing."""
    x = layers.ReLU()(x)
    x = layers.Conv2D(channels, kernel, strides=stride, padding="same", use_bias=False)(x)
    return layers.BatchNormalization()(x)


def _dil_conv(x, channels: int, stride: int, dilation: int):
    """ReLU, depthwise 3x3 (dilated), pointwise 1x1, BN."""
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(
        3, strides=stride, dilation_rate=dilation, padding="same", use_bias=False
    )(x)
    x = layers.Conv2D(channels, 1, use_bias=False)(x)
    return layers.BatchNormalization()(x)


def _sep_conv(x, channels: int, stride: int):
    """DARTS's sep_conv: the ReLU-depthwise-pointwise-BN unit applied twice."""
    x = _dil_conv(x, x.shape[-1], stride, 1)
    return _dil_conv(x, channels, 1, 1)


def _factorized_reduce(x, channels: int):
    """Halve the resolution without losing pixels: two offset 1x1 stride-2 convs, concatenated."""
    x = layers.ReLU()(x)
    a = layers.Conv2D(channels // 2, 1, strides=2, use_bias=False)(x)
    shifted = layers.Cropping2D(((1, 0), (1, 0)))(x)
    b = layers.Conv2D(channels - channels // 2, 1, strides=2, use_bias=False)(shifted)
    return layers.BatchNormalization()(layers.Concatenate()([a, b]))


def _darts_op(name: str, x, channels: int, stride: int):
    """Apply one DARTS candidate operation by its genotype name."""
    if name == "sep_conv_3x3":
        return _sep_conv(x, channels, stride)
    if name == "dil_conv_3x3":
        if stride != 1:
            raise ValueError("dilated convolution with stride is not supported here")
        return _dil_conv(x, channels, 1, 2)
    if name == "skip_connect":
        return x if stride == 1 else _factorized_reduce(x, channels)
    if name == "max_pool_3x3":
        return layers.MaxPooling2D(3, strides=stride, padding="same")(x)
    if name == "avg_pool_3x3":
        return layers.AveragePooling2D(3, strides=stride, padding="same")(x)
    raise ValueError(f"unknown DARTS operation {name!r}")


def darts_cell(s0, s1, genotype: Genotype, channels: int, reduction: bool, reduction_prev: bool):
    """One DARTS cell: 4 intermediate nodes, output = their channel concat."""
    if reduction_prev:
        s0 = _factorized_reduce(s0, channels)
    else:
        s0 = _relu_conv_bn(s0, channels)
    s1 = _relu_conv_bn(s1, channels)
    ops = genotype.reduce if reduction else genotype.normal
    concat = genotype.reduce_concat if reduction else genotype.normal_concat
    states = [s0, s1]
    for i in range(0, len(ops), 2):
        branches = []
        for name, index in ops[i : i + 2]:
            stride = 2 if reduction and index < 2 else 1
            branches.append(_darts_op(name, states[index], channels, stride))
        states.append(layers.Add()(branches))
    return layers.Concatenate()([states[i] for i in concat])


def darts(
    cells: int = 8,
    channels: int = 16,
    input_size: int = 32,
    classes: int = 10,
    genotype: Genotype = DARTS_V2,
) -> keras.Model:
    """DARTS evaluation network (CIFAR layout): stem, ``cells`` cells, classifier.

    Reduction cells sit at 1/3 and 2/3 of the depth and double the width,
    as in the paper's CIFAR-10 network (there with 20 cells and C=36).
    """
    inp = keras.Input((input_size, input_size, 3), batch_size=1)
    x = layers.Conv2D(3 * channels, 3, padding="same", use_bias=False)(inp)
    s0 = s1 = layers.BatchNormalization()(x)
    width, reduction_prev = channels, False
    for i in range(cells):
        reduction = i in (cells // 3, 2 * cells // 3)
        if reduction:
            width *= 2
        s0, s1 = s1, darts_cell(s0, s1, genotype, width, reduction, reduction_prev)
        reduction_prev = reduction
    x = layers.GlobalAveragePooling2D()(s1)
    out = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out, name="darts_v2")


# --------------------------------------------------------------------------
# Inception-style multi-branch network ("SwiftNet-like").
# --------------------------------------------------------------------------


def _conv_bn_relu(x, channels: int, kernel: int = 1, stride: int = 1):
    """Convolution, BN, ReLU: the converter folds all three into one CONV_2D."""
    x = layers.Conv2D(channels, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def inception_block(x, width: int, out_channels: int):
    """Four parallel branches (1x1; 1x1-3x3; 1x1-3x3-3x3 for 5x5; pool-1x1),
    concatenated on channels, then a 1x1 convolution."""
    b1 = _conv_bn_relu(x, width)
    b2 = _conv_bn_relu(_conv_bn_relu(x, width // 2), width, 3)
    b3 = _conv_bn_relu(x, width // 2)
    b3 = _conv_bn_relu(_conv_bn_relu(b3, width // 2, 3), width // 2, 3)
    b4 = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    b4 = _conv_bn_relu(b4, width // 2)
    return _conv_bn_relu(layers.Concatenate()([b1, b2, b3, b4]), out_channels)


def swiftnet(
    input_size: int = 64,
    widths: Sequence[int] = (16, 32, 48),
    blocks_per_stage: int = 2,
    classes: int = 10,
) -> keras.Model:
    """Stem, then stages of Inception-style blocks separated by max pooling."""
    inp = keras.Input((input_size, input_size, 3), batch_size=1)
    x = _conv_bn_relu(inp, widths[0], 3, 2)
    for stage, width in enumerate(widths):
        if stage:
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        for _ in range(blocks_per_stage):
            x = inception_block(x, width, 2 * width)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out, name="swiftnet")


# --------------------------------------------------------------------------
# U-Net (Ronneberger et al. 2015), small.
# --------------------------------------------------------------------------


def unet(input_size: int = 64, base: int = 16, levels: int = 3, classes: int = 4) -> keras.Model:
    """U-Net: ``levels`` resolutions down, up-convolutions back, skip concats.

    Each level has two 3x3 conv-BN-ReLU; the decoder concatenates the
    encoder's feature map with the 2x2 transposed-conv upsampling, so the
    encoder outputs stay live across the whole bottleneck.
    """
    inp = keras.Input((input_size, input_size, 3), batch_size=1)
    x, skips = inp, []
    for level in range(levels - 1):
        x = _conv_bn_relu(_conv_bn_relu(x, base * 2**level, 3), base * 2**level, 3)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    width = base * 2 ** (levels - 1)
    x = _conv_bn_relu(_conv_bn_relu(x, width, 3), width, 3)
    for skip in reversed(skips):
        width //= 2
        x = layers.Conv2DTranspose(width, 2, strides=2)(x)
        x = layers.Concatenate()([skip, x])
        x = _conv_bn_relu(_conv_bn_relu(x, width, 3), width, 3)
    out = layers.Conv2D(classes, 1)(x)
    return keras.Model(inp, out, name="unet")


# --------------------------------------------------------------------------
# Transformer encoder (Vaswani et al. 2017), post-norm as in the paper.
# --------------------------------------------------------------------------


class PositionEmbedding(layers.Layer):
    """Adds a learned position vector to each sequence element."""

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=tuple(input_shape[1:]),
            initializer=keras.initializers.RandomNormal(stddev=0.1),
            name="positions",
        )

    def call(self, x):
        return x + self.table


def encoder_layer(x, heads: int, ffn: int):
    """Self-attention and a ReLU feed-forward net, each with residual and LayerNorm."""
    dim = x.shape[-1]
    attn = layers.MultiHeadAttention(heads, dim // heads)(x, x)
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, attn]))
    h = layers.Dense(ffn, activation="relu")(x)
    h = layers.Dense(dim)(h)
    return layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, h]))


def transformer(
    seq: int = 32, dim: int = 64, depth: int = 2, heads: int = 4, ffn: int = 128, classes: int = 10
) -> keras.Model:
    """Encoder over an already embedded sequence ``[1, seq, dim]``, mean-pooled classifier."""
    inp = keras.Input((seq, dim), batch_size=1)
    x = PositionEmbedding()(inp)
    for _ in range(depth):
        x = encoder_layer(x, heads, ffn)
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out, name="transformer")
