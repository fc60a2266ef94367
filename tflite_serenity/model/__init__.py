"""The file format edge: ``.tflite`` bytes in, ``ModelT`` object tree out, and back."""

from .edit import metadata, with_metadata, with_operator_orders, without_metadata
from .io import read_model, write_model
from .ops import called_subgraphs, opcode_name
from .plain import to_plain

__all__ = [
    "metadata", "with_metadata", "with_operator_orders", "without_metadata","read_model", "write_model", "called_subgraphs", "opcode_name", "to_plain"]
