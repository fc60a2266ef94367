"""Read the inputs and outputs of a model's entry subgraph, without an interpreter.

Both runtimes enter a model at subgraph 0, so that is the subgraph described
here. Only what verification needs is read: each tensor's name, dtype and
shape. The flatbuffer schema is used read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tflite_serenity.errors import ModelFormatError, UnsupportedModelError

# TFLite TensorType code -> numpy dtype, for the types that can be fed and read
# as plain numpy arrays. Other codes (STRING, RESOURCE, VARIANT, INT4, BFLOAT16,
# float8...) have no faithful numpy counterpart here.
_NUMPY_DTYPES: dict[int, np.dtype] = {
    0: np.dtype(np.float32),
    1: np.dtype(np.float16),
    2: np.dtype(np.int32),
    3: np.dtype(np.uint8),
    4: np.dtype(np.int64),
    6: np.dtype(np.bool_),
    7: np.dtype(np.int16),
    8: np.dtype(np.complex64),
    9: np.dtype(np.int8),
    10: np.dtype(np.float64),
    11: np.dtype(np.complex128),
    12: np.dtype(np.uint64),
    15: np.dtype(np.uint32),
    16: np.dtype(np.uint16),
}


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
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

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
    if code not in _NUMPY_DTYPES:
        raise UnsupportedModelError(
            f"tensor {index} ({name!r}) has TFLite type code {code}, "
            "which verification cannot feed or read"
        )
    if tensor.ShapeSignatureIsNone() or tensor.ShapeSignatureLength() == 0:
        dims = [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    else:
        dims = [int(d) for d in tensor.ShapeSignatureAsNumpy()]
    shape = tuple(1 if d < 0 else d for d in dims)
    return TensorSpec(name=name, dtype=_NUMPY_DTYPES[code], shape=shape)
