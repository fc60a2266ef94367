"""The one place that imports the TFLite flatbuffer schema binding.

We use the generated object-API binding that ships with ``tflite-micro``
(``ModelT``, ``Pack``): it tracks the newest schema, needs only ``flatbuffers``
and ``numpy``, and, unlike the read-only ``tflite`` package, can write. Every
other module of ours reaches the schema through this module, so switching the
binding is a one-line change.
"""

from __future__ import annotations

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

#: The four bytes at offset 4 of every TFLite flatbuffer.
FILE_IDENTIFIER = b"TFL3"

#: The schema version this binding reads and writes.
SCHEMA_VERSION = 3

BuiltinOperator = fb.BuiltinOperator
BuiltinOptions = fb.BuiltinOptions
TensorType = fb.TensorType

#: BuiltinOperator value -> name, e.g. 3 -> "CONV_2D".
BUILTIN_NAMES: dict[int, str] = {
    value: name for name, value in vars(fb.BuiltinOperator).items() if not name.startswith("_")
}

#: TensorType value -> name, e.g. 9 -> "INT8".
TENSOR_TYPE_NAMES: dict[int, str] = {
    value: name for name, value in vars(fb.TensorType).items() if not name.startswith("_")
}

__all__ = [
    "fb",
    "FILE_IDENTIFIER",
    "SCHEMA_VERSION",
    "BuiltinOperator",
    "BuiltinOptions",
    "TensorType",
    "BUILTIN_NAMES",
    "TENSOR_TYPE_NAMES",
]
