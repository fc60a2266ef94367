"""Keras builders for PNASNet-like cell networks with random genotypes.

PNASNet (Liu et al. 2018, "Progressive Neural Architecture Search") builds a
cell from *blocks*: each block applies one operation to each of two inputs
(the outputs of the two previous cells, or of earlier blocks of the same
cell) and adds the two results; the cell's output is the channel
concatenation of its blocks. The next cell reads it through a 1x1
convolution, so every cell boundary is a concat feeding convolutions: the
pattern the channel-wise (approximate) rewrite splits.

Operations: separable convolutions 3x3, 5x5, 7x7, 3x3 max pooling, identity
and a 1x7 then 7x1 convolution. In a reduction cell, operations on the cell
inputs have stride 2 (identity becomes a 1x1 convolution of stride 2).

Each builder is deterministic for a given genotype (call
``keras.utils.set_random_seed`` first for the weights) and returns a
functional ``keras.Model`` with a fixed batch-1 input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from tensorflow import keras

layers = keras.layers

OPERATIONS = ("sep_3x3", "sep_5x5", "sep_7x7", "max_3x3", "identity", "conv_1x7_7x1")


class Block(NamedTuple):
    """One block: ``op_a(states[in_a]) + op_b(states[in_b])``; states 0 and 1 are
    the two previous cells' outputs, 2.. the earlier blocks of the cell."""

    in_a: int
    op_a: str
    in_b: int
    op_b: str


class CellNet(NamedTuple):
    """A network: its blocks (one genotype shared by every cell) and layout."""

    blocks: tuple[Block, ...]
    cells: int  # cells in all
    channels: int  # of the first cells; doubled at each reduction
    input_size: int
    reductions: tuple[int, ...] | None = None  # indices of the reduction cells; None: at 1/3 and 2/3 of the depth


PNASNET5 = (
    Block(0, "sep_5x5", 0, "max_3x3"),
    Block(1, "sep_7x7", 1, "max_3x3"),
    Block(1, "sep_5x5", 1, "sep_3x3"),
    Block(1, "conv_1x7_7x1", 1, "max_3x3"),
    Block(0, "sep_3x3", 2, "identity"),
)


def random_genotype(rng: np.random.Generator, blocks: int) -> tuple[Block, ...]:
    """``blocks`` random blocks: inputs among the states before each, operations uniform.

    Examples
    --------
    >>> len(random_genotype(np.random.default_rng(0), 3))
    3
    """
    out = []
    for b in range(blocks):
        states = 2 + b
        a, c = (int(v) for v in rng.integers(states, size=2))
        op_a, op_b = (OPERATIONS[int(v)] for v in rng.integers(len(OPERATIONS), size=2))
        out.append(Block(a, op_a, c, op_b))
    return tuple(out)


def _relu_conv_bn(x, channels: int, kernel=1, stride: int = 1):
    x = layers.ReLU()(x)
    x = layers.Conv2D(channels, kernel, strides=stride, padding="same", use_bias=False)(x)
    return layers.BatchNormalization()(x)


def _sep_conv(x, channels: int, kernel: int, stride: int):
    """PNASNet's separable convolution: ReLU, depthwise kxk, pointwise 1x1, BN."""
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(channels, kernel, strides=stride, padding="same", use_bias=False)(x)
    return layers.BatchNormalization()(x)


def _operation(name: str, x, channels: int, stride: int):
    if name.startswith("sep_"):
        return _sep_conv(x, channels, int(name[4]), stride)
    if name == "max_3x3":
        x = layers.MaxPooling2D(3, strides=stride, padding="same")(x)
        return x if x.shape[-1] == channels else _relu_conv_bn(x, channels)
    if name == "identity":
        return x if stride == 1 and x.shape[-1] == channels else _relu_conv_bn(x, channels, 1, stride)
    if name == "conv_1x7_7x1":
        x = _relu_conv_bn(x, channels, (1, 7), (1, stride))
        return _relu_conv_bn(x, channels, (7, 1), (stride, 1))
    raise ValueError(f"unknown PNAS operation {name!r}")


def pnas_cell(h0, h1, blocks: tuple[Block, ...], channels: int, reduction: bool):
    """One cell: inputs brought to ``channels`` (and h0 to h1's size), blocks, concat of the blocks."""
    if h0.shape[1] != h1.shape[1]:
        h0 = _relu_conv_bn(h0, channels, 1, 2)
    else:
        h0 = _relu_conv_bn(h0, channels)
    h1 = _relu_conv_bn(h1, channels)
    states = [h0, h1]
    for block in blocks:
        parts = []
        for index, name in ((block.in_a, block.op_a), (block.in_b, block.op_b)):
            stride = 2 if reduction and index < 2 else 1
            parts.append(_operation(name, states[index], channels, stride))
        states.append(layers.Add()(parts))
    outs = states[2:]
    return outs[0] if len(outs) == 1 else layers.Concatenate()(outs)


def pnas(net: CellNet, classes: int = 10) -> keras.Model:
    """Stem (3x3 conv, BN), ``net.cells`` cells, global pooling, classifier."""
    inp = keras.Input((net.input_size, net.input_size, 3), batch_size=1)
    x = layers.Conv2D(net.channels, 3, padding="same", use_bias=False)(inp)
    h0 = h1 = layers.BatchNormalization()(x)
    width = net.channels
    reductions = net.reductions
    if reductions is None:
        reductions = (net.cells // 3, 2 * net.cells // 3) if net.cells >= 3 else ()
    for i in range(net.cells):
        reduction = i in reductions
        if reduction:
            width *= 2
        h0, h1 = h1, pnas_cell(h0, h1, net.blocks, width, reduction)
    x = layers.ReLU()(h1)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out, name="pnas")


def random_net(seed: int, input_size: int = 16, channels: int = 4, max_blocks: int = 4) -> CellNet:
    """A small random cell network: 2 to ``max_blocks`` blocks, 2 to 4 cells,
    the last of three or four a reduction cell half of the time.

    Examples
    --------
    >>> random_net(3).channels, random_net(3) == random_net(3)
    (4, True)
    """
    rng = np.random.default_rng(seed)
    blocks = random_genotype(rng, int(rng.integers(2, max_blocks + 1)))
    cells = int(rng.integers(2, 5))
    reduce = cells >= 3 and rng.random() < 0.5
    return CellNet(blocks, cells, channels, input_size, (cells - 1,) if reduce else ())
