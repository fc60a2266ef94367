"""Keras builders for the chain networks people deploy on microcontrollers.

Chains (every operator order the same) are where only overlapped placement
and patch-based execution can lower the peak, and where Arm's Vela is the
yardstick (issue 20). Two shapes from MLPerf Tiny and the TFLite Micro
examples, rebuilt from their published architecture (nothing downloaded):

* ``person_detection``: MobileNetV1 alpha 0.25 on a 96x96 grayscale image,
  two classes, "same" padding throughout (the TFLite Micro example's model,
  without its trained weights).
* ``resnet8``: MLPerf Tiny's image-classification ResNet-8 for CIFAR-10:
  32x32x3, a 3x3 stem and three residual stacks of 16, 32 and 64 filters,
  the last two with a strided 1x1 convolution on the shortcut.

MobileNetV2 1.0/224 comes from ``keras.applications`` (``make_zoo``). Each
builder is deterministic for a given seed (call ``keras.utils.set_random_seed``
first) and returns a functional ``keras.Model`` with a fixed batch-1 input.
"""

from __future__ import annotations

from tensorflow import keras

layers = keras.layers

#: (pointwise filters at alpha 1, depthwise stride) of MobileNetV1's 13 separable blocks.
MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _conv_bn_relu6(x, filters: int, kernel: int, stride: int):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(6.0)(x)


def mobilenet_v1(size: int = 96, channels: int = 1, alpha: float = 0.25, classes: int = 2) -> keras.Model:
    """MobileNetV1 with "same" padding, global average pooling and a Dense classifier.

    Examples
    --------
    >>> model = mobilenet_v1()
    >>> model.inputs[0].shape, model.outputs[0].shape
    ((1, 96, 96, 1), (1, 2))
    """
    inputs = keras.Input((size, size, channels), batch_size=1)
    x = _conv_bn_relu6(inputs, int(32 * alpha), 3, 2)
    for filters, stride in MOBILENET_V1_BLOCKS:
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU(6.0)(x)
        x = _conv_bn_relu6(x, int(filters * alpha), 1, 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v1")


def person_detection() -> keras.Model:
    """MobileNetV1 0.25 on 96x96x1 with two classes (person / no person)."""
    return mobilenet_v1(96, 1, 0.25, 2)


def _residual_stack(x, filters: int, stride: int):
    """Two 3x3 convolutions and a shortcut (a strided 1x1 convolution when the shape changes), added."""
    y = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    y = layers.BatchNormalization()(y)
    if stride != 1:
        x = layers.Conv2D(filters, 1, strides=stride, padding="same")(x)
    return layers.ReLU()(layers.Add()([x, y]))


def resnet8(size: int = 32, classes: int = 10) -> keras.Model:
    """MLPerf Tiny's ResNet-8: a 16-filter stem, stacks of 16, 32 and 64 filters, pooling, Dense.

    Examples
    --------
    >>> model = resnet8()
    >>> model.inputs[0].shape, model.outputs[0].shape
    ((1, 32, 32, 3), (1, 10))
    """
    inputs = keras.Input((size, size, 3), batch_size=1)
    x = layers.Conv2D(16, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        x = _residual_stack(x, filters, stride)
    x = layers.AveragePooling2D(pool_size=x.shape[1])(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet8")
