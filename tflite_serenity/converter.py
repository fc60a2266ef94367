"""Hook for ``tf.lite.TFLiteConverter``: convert, then optimize, in one call."""

from __future__ import annotations

from typing import Any

from .errors import SerenityError
from .driver import OptimizeResult, optimize


def convert(converter: Any, **options: Any) -> OptimizeResult:
    """Run ``converter.convert()`` and optimize the model it returns.

    Works with any converter object whose ``convert()`` returns ``.tflite``
    bytes (``tf.lite.TFLiteConverter.from_keras_model``,
    ``from_saved_model``, ``from_concrete_functions``). TensorFlow is not
    imported here; it is the caller's.

    Parameters
    ----------
    converter
        A configured TFLite converter.
    **options
        Passed to :func:`tflite_serenity.optimize` (``time_limit``, ...).

    Examples
    --------
    >>> converter = tf.lite.TFLiteConverter.from_keras_model(model)  # doctest: +SKIP
    >>> result = tflite_serenity.convert(converter)                    # doctest: +SKIP
    >>> result.save("model.tflite")                                    # doctest: +SKIP
    """
    if not callable(getattr(converter, "convert", None)):
        raise SerenityError("convert() needs a TFLite converter (an object with a convert() method)")
    data = converter.convert()
    if not isinstance(data, (bytes, bytearray)):
        raise SerenityError(f"the converter returned {type(data).__name__}, not .tflite bytes")
    return optimize(bytes(data), **options)
