"""Read a ``.tflite`` flatbuffer into the schema's object tree, and write it back.

The object tree (``ModelT``) is plain Python data that keeps every field of the
file: all subgraphs, tensors with quantization and sparsity, buffers, operator
codes and options, intermediates, signature defs, metadata, description and
version. Reading then writing gives the same data (and, for converter output,
the same bytes).
"""

from __future__ import annotations

import flatbuffers

from ..errors import ModelFormatError, UnsupportedModelError
from .schema import FILE_IDENTIFIER, SCHEMA_VERSION, fb
from .validate import validate_model


def read_model(data: bytes) -> "fb.ModelT":
    """Parse TFLite flatbuffer bytes into a validated ``ModelT``.

    Raises
    ------
    ModelFormatError
        The bytes are not a TFLite flatbuffer, are truncated, or refer to
        tensors, buffers or subgraphs that do not exist.
    UnsupportedModelError
        The schema version is not 3.
    """
    data = bytes(data)
    if len(data) < 8:
        raise ModelFormatError(f"not a TFLite model: only {len(data)} bytes")
    identifier = data[4:8]
    if identifier != FILE_IDENTIFIER:
        raise ModelFormatError(
            f"not a TFLite model: file identifier is {identifier!r}, expected {FILE_IDENTIFIER!r}"
        )
    try:
        root = fb.Model.GetRootAsModel(data, 0)
        version = root.Version()
    except Exception as err:  # the flatbuffers runtime raises whatever struct/indexing raised
        raise ModelFormatError(f"not a TFLite model: cannot read its root table ({err})") from err
    if version != SCHEMA_VERSION:
        raise UnsupportedModelError(
            f"unsupported TFLite schema version {version} (this tool reads version {SCHEMA_VERSION})"
        )
    try:
        model = fb.ModelT.InitFromObj(root)
    except Exception as err:
        raise ModelFormatError(f"malformed or truncated TFLite flatbuffer ({type(err).__name__}: {err})") from err
    _load_external_buffers(model, data)
    validate_model(model)
    return model


#: Constant data beyond this many bytes is stored after the flatbuffer, which
#: cannot address more than 2 GiB (the converter's own rule for large models).
EXTERNAL_DATA_BYTES = (1 << 31) - (64 << 20)

#: Alignment of buffers stored after the flatbuffer.
EXTERNAL_ALIGNMENT = 16


def write_model(model: "fb.ModelT", *, external_over: int = EXTERNAL_DATA_BYTES) -> bytes:
    """Serialize a ``ModelT`` to TFLite flatbuffer bytes (identifier ``TFL3``).

    When the buffers hold more than ``external_over`` bytes, their data goes
    after the flatbuffer, each buffer pointing at it with ``offset``/``size``
    (16-byte aligned), as TFLite does for models over 2 GiB. The model object
    is left as it was.
    """
    total = sum(len(b.data) for b in model.buffers or [] if b.data is not None)
    if total <= external_over:
        return _pack(model, total)
    return _pack_external(model)


def _pack(model: "fb.ModelT", data_bytes: int = 0) -> bytes:
    # Room for the constant data and a megabyte of tables from the start: the
    # builder doubles its buffer as it fills, copying everything each time.
    builder = flatbuffers.Builder(data_bytes + (1 << 20))
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def _pack_external(model: "fb.ModelT") -> bytes:
    import copy

    shell = copy.copy(model)
    moved = []  # (buffer in shell, data)
    shell.buffers = []
    for buffer in model.buffers or []:
        if buffer.data is not None and len(buffer.data) > 0:
            placeholder = fb.BufferT()
            placeholder.offset, placeholder.size = 1 << 62, len(buffer.data)  # same encoded size as the real value
            moved.append((placeholder, buffer.data))
            shell.buffers.append(placeholder)
        else:
            shell.buffers.append(buffer)
    head = len(_pack(shell))
    position = _align(head)
    for placeholder, data in moved:
        placeholder.offset = position
        position = _align(position + len(data))
    flat = _pack(shell)
    if len(flat) != head:
        raise AssertionError("buffer offsets changed the flatbuffer's size")
    out = bytearray(flat)
    for placeholder, data in moved:
        out.extend(b"\0" * (placeholder.offset - len(out)))
        out.extend(bytes(bytearray(data)))
    return bytes(out)


def _align(n: int) -> int:
    return -(-n // EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT


def _load_external_buffers(model: "fb.ModelT", data: bytes) -> None:
    """Bring buffers stored after the flatbuffer (``offset``/``size``) inline.

    Models over 2 GiB keep constant data behind the flatbuffer and point at it
    with ``offset`` and ``size``; the converter writes ``offset=1`` as a marker
    for "no external data". We read such data into ``data`` so every later stage
    sees one representation.
    """
    for index, buffer in enumerate(model.buffers or []):
        if buffer.offset > 1:
            end = buffer.offset + buffer.size
            if end > len(data):
                raise ModelFormatError(
                    f"buffer {index} points at bytes {buffer.offset}..{end} past the end of the "
                    f"{len(data)}-byte file"
                )
            import numpy as np

            buffer.data = np.frombuffer(data, dtype=np.uint8, count=buffer.size, offset=buffer.offset).copy()
            buffer.offset = 0
            buffer.size = 0
