"""The one table of TFLite tensor types: what each element takes, in our memory
model and in TFLite Micro, and which numpy dtype holds its data.

>>> TYPES["INT8"].width, TYPES["INT4"].width, TYPES["INT4"].tflm_width
(1, 0.5, 1)
>>> NUMPY_BY_CODE[TensorType.INT16]
dtype('int16')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .schema import TensorType


@dataclass(frozen=True)
class TypeInfo:
    """One tensor type."""

    width: float  # bytes per element as we count them: packed types a fraction, content-sized types 0
    tflm_width: int | None  # TfLiteTypeSizeOf in TFLite Micro; None: it cannot size the type
    numpy: str | None  # the numpy dtype of its data, where one holds it faithfully


TYPES: dict[str, TypeInfo] = {
    "FLOAT32": TypeInfo(4, 4, "float32"),
    "FLOAT16": TypeInfo(2, 2, "float16"),
    "BFLOAT16": TypeInfo(2, 2, None),
    "FLOAT64": TypeInfo(8, 8, "float64"),
    "INT8": TypeInfo(1, 1, "int8"),
    "UINT8": TypeInfo(1, 1, "uint8"),
    "INT16": TypeInfo(2, 2, "int16"),
    "UINT16": TypeInfo(2, 2, "uint16"),
    "INT32": TypeInfo(4, 4, "int32"),
    "UINT32": TypeInfo(4, 4, "uint32"),
    "INT64": TypeInfo(8, 8, "int64"),
    "UINT64": TypeInfo(8, 8, "uint64"),
    "BOOL": TypeInfo(1, 1, "bool"),
    "COMPLEX64": TypeInfo(8, 8, "complex64"),
    "COMPLEX128": TypeInfo(16, 16, "complex128"),
    "INT4": TypeInfo(0.5, 1, None),  # TFLite Micro unpacks int4 to one byte each
    "UINT4": TypeInfo(0.5, None, None),
    "INT2": TypeInfo(0.25, None, None),
    "FLOAT8_E4M3FN": TypeInfo(1, None, None),
    "FLOAT8_E5M2": TypeInfo(1, None, None),
    "STRING": TypeInfo(0, None, None),
    "RESOURCE": TypeInfo(0, 4, None),  # TFLite Micro keeps a 4-byte resource id
    "VARIANT": TypeInfo(0, None, None),
}

#: numpy dtype by schema type code, for the types whose data numpy holds.
NUMPY_BY_CODE: dict[int, np.dtype] = {
    getattr(TensorType, name): np.dtype(info.numpy)
    for name, info in TYPES.items() if info.numpy is not None and hasattr(TensorType, name)
}
