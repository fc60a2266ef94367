"""The inputs and outputs of a model's entry subgraph, read without an interpreter, and
deterministic random data for them (to run an original and a candidate on exactly the same data).

Both runtimes enter a model at subgraph 0, so that is the subgraph described
here. Only what verification needs is read: each tensor's name, dtype and
shape. The flatbuffer is read in place (no object tree), through :mod:`.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelFormatError, UnsupportedModelError
from .types import NUMPY_BY_CODE



@dataclass(frozen=True)
class TensorSpec:
    """An input or output tensor of the entry subgraph.

    Attributes
    ----------
    name : str
        The tensor's name in the model ("" when it has none).
    dtype : numpy.dtype
        The element type.
    shape : tuple of int
        A concrete shape: the shape signature with every unknown (-1)
        dimension replaced by 1.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]


def read_io(model: bytes) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """Describe the inputs and outputs of subgraph 0, in the model's order.

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.

    Returns
    -------
    inputs, outputs : list of TensorSpec

    Raises
    ------
    ModelFormatError
        If the bytes are not a TFLite flatbuffer or indices are out of range.
    UnsupportedModelError
        If the model has no subgraph or an input/output has a type that cannot
        be represented as a numpy array (e.g. STRING, RESOURCE, INT4).
    """
    from .schema import fb

    buf = bytes(model)
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelFormatError("not a TFLite model: file identifier 'TFL3' missing")
    try:
        root = fb.Model.GetRootAsModel(buf, 0)
        if root.SubgraphsLength() == 0:
            raise UnsupportedModelError("the model has no subgraph")
        subgraph = root.Subgraphs(0)
        n_tensors = subgraph.TensorsLength()
        specs = []
        for indices in (subgraph.InputsAsNumpy(), subgraph.OutputsAsNumpy()):
            indices = [] if isinstance(indices, int) else [int(i) for i in indices]
            specs.append([_spec(subgraph, i, n_tensors) for i in indices])
    except (UnsupportedModelError, ModelFormatError):
        raise
    except Exception as err:  # the generated reader raises struct/index errors
        raise ModelFormatError(f"cannot read the model's flatbuffer: {err}") from err
    return specs[0], specs[1]


def _spec(subgraph, index: int, n_tensors: int) -> TensorSpec:
    if not 0 <= index < n_tensors:
        raise ModelFormatError(
            f"subgraph 0 names tensor {index} as input or output, "
            f"but has only {n_tensors} tensors"
        )
    tensor = subgraph.Tensors(index)
    name = (tensor.Name() or b"").decode("utf-8", errors="replace")
    code = tensor.Type()
    if code not in NUMPY_BY_CODE:
        raise UnsupportedModelError(
            f"tensor {index} ({name!r}) has TFLite type code {code}, "
            "which verification cannot feed or read"
        )
    if tensor.ShapeSignatureIsNone() or tensor.ShapeSignatureLength() == 0:
        dims = [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    else:
        dims = [int(d) for d in tensor.ShapeSignatureAsNumpy()]
    shape = tuple(1 if d < 0 else d for d in dims)
    return TensorSpec(name=name, dtype=NUMPY_BY_CODE[code], shape=shape)


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
