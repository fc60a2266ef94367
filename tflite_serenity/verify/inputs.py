"""Deterministic random inputs for a model, to run an original and a candidate
on exactly the same data."""

from __future__ import annotations

import numpy as np

from tflite_serenity.verify._model_io import TensorSpec, read_io

# Integer types that are usually quantized activations: drawn over their full
# range. Wider integers are usually indices, sizes or token ids: drawn small.
_FULL_RANGE = frozenset(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16))
_SMALL_INT_LIMIT = 8


def random_inputs(model: bytes, seed: int = 0) -> list[np.ndarray]:
    """Make random inputs for every input of the model's subgraph 0.

    The same model and seed always give the same arrays (NumPy's PCG64
    generator, one stream drawn input by input in model order).

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    seed : int, optional
        Seed of the random generator.

    Returns
    -------
    list of numpy.ndarray
        One C-contiguous array per input, in the model's input order, with the
        input's dtype and shape (unknown dimensions of the shape signature set
        to 1). Floating inputs are standard normal; int8, uint8, int16 and
        uint16 are uniform over their whole range; int32, int64, uint32 and
        uint64 are uniform in ``[0, 8)``; bool is a fair coin; complex inputs
        have standard normal real and imaginary parts.

    Raises
    ------
    ModelFormatError
        If the bytes are not a readable TFLite model.
    UnsupportedModelError
        If an input has a type with no numpy counterpart (string, resource...).

    Examples
    --------
    >>> import pathlib, tflite_micro
    >>> path = pathlib.Path(tflite_micro.__file__).parent / "python/tflite_micro/sine_float.tflite"
    >>> [(x.dtype, x.shape) for x in random_inputs(path.read_bytes(), seed=3)]
    [(dtype('float32'), (1, 1))]
    """
    specs, _ = read_io(model)
    rng = np.random.default_rng(seed)
    return [_draw(rng, spec) for spec in specs]


def _draw(rng: np.random.Generator, spec: TensorSpec) -> np.ndarray:
    dtype, shape = spec.dtype, spec.shape
    if dtype.kind == "f":
        values = rng.standard_normal(shape, dtype=np.float64).astype(dtype)
    elif dtype.kind == "c":
        pair = rng.standard_normal((2, *shape), dtype=np.float64)
        values = (pair[0] + 1j * pair[1]).astype(dtype)
    elif dtype.kind == "b":
        values = rng.integers(0, 2, size=shape, dtype=np.uint8).astype(np.bool_)
    elif dtype in _FULL_RANGE:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    else:  # the wider integers; read_io admits no other kind
        values = rng.integers(0, _SMALL_INT_LIMIT, size=shape, dtype=dtype)
    return np.ascontiguousarray(values)
