"""The one place that imports the TFLite flatbuffer schema binding.

We use the generated object-API binding that ships with ``tflite-micro``
(``ModelT``, ``Pack``): it tracks the newest schema, needs only ``flatbuffers``
and ``numpy``, and, unlike the read-only ``tflite`` package, can write. Every
other module of ours reaches the schema through this module, so switching the
binding is a one-line change.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_BINDING = "tflite_micro.tensorflow.lite.micro.python.schema_py_generated"


def _load_binding():
    """The binding module, loaded from its file without ``tflite_micro``'s
    package ``__init__`` (which loads the interpreter and YAML: a tenth of a
    second that reading and writing models does not need). It is registered
    under its full name, so a later ``import`` of it, with its package, gets
    this same module."""
    found = sys.modules.get(_BINDING)
    if found is not None:
        return found
    package = importlib.util.find_spec("tflite_micro")  # a top-level name: found, not imported
    for root in (package.submodule_search_locations or []) if package is not None else []:
        path = os.path.join(root, "tensorflow", "lite", "micro", "python", "schema_py_generated.py")
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(_BINDING, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[_BINDING] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[_BINDING]
                raise
            return module
    return importlib.import_module(_BINDING)  # laid out otherwise: the ordinary way


fb = _load_binding()

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
