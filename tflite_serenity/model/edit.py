"""Edits of a ``ModelT`` that return a new model and leave the input untouched.

Unchanged parts (buffers, tensors, other subgraphs) are shared, not copied, so
an edit costs time in proportion to what it changes.
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

from .schema import fb


def with_operator_orders(model: "fb.ModelT", orders: Mapping[int, Sequence[int]]) -> "fb.ModelT":
    """A model whose subgraph ``s`` runs its operators in ``orders[s]``
    (positions in the current stored order). The caller validates the orders."""
    new = copy.copy(model)
    new.subgraphs = list(model.subgraphs)
    for s, order in orders.items():
        sub = copy.copy(model.subgraphs[s])
        sub.operators = [model.subgraphs[s].operators[i] for i in order]
        new.subgraphs[s] = sub
    return new


def with_empty_subgraphs(model: "fb.ModelT", names: Sequence[str]) -> tuple["fb.ModelT", list[int]]:
    """A model with one new empty subgraph per name after its own (e.g. a
    WHILE's condition and body, filled with a ``SubgraphEditor``), and
    their indices."""
    new = copy.copy(model)
    new.subgraphs = list(model.subgraphs)
    indices = []
    for name in names:
        sub = fb.SubGraphT()
        sub.tensors, sub.operators, sub.inputs, sub.outputs = [], [], [], []
        sub.name = name
        new.subgraphs.append(sub)
        indices.append(len(new.subgraphs) - 1)
    return new, indices


def with_metadata(model: "fb.ModelT", name: str, data: bytes) -> "fb.ModelT":
    """A model with metadata entry ``name`` holding ``data`` (replacing any entry of that name)."""
    import numpy as np

    new = copy.copy(model)
    new.buffers = list(model.buffers or [])
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8).copy()
    new.buffers.append(buffer)
    entry = fb.MetadataT()
    entry.name = name
    entry.buffer = len(new.buffers) - 1
    kept = [m for m in (model.metadata or []) if _text(m.name) != name]
    new.metadata = kept + [entry]
    return new


def without_metadata(model: "fb.ModelT", name: str) -> "fb.ModelT":
    """A model without metadata entry ``name``.

    Its buffer is dropped too when it is the last buffer and nothing else
    refers to it (where :func:`with_metadata` puts it); otherwise it stays,
    unreferenced, so no buffer index has to change.
    """
    new = copy.copy(model)
    entries = model.metadata or []
    new.metadata = [m for m in entries if _text(m.name) != name]
    buffers = list(model.buffers or [])
    last = len(buffers) - 1
    if last > 0 and any(_text(m.name) == name and m.buffer == last for m in entries):
        used = {m.buffer for m in new.metadata}
        used.update(t.buffer for sub in model.subgraphs or [] for t in sub.tensors or [])
        if last not in used:
            new.buffers = buffers[:last]
    return new


def metadata(model: "fb.ModelT", name: str) -> bytes | None:
    """The bytes of metadata entry ``name``, or None."""
    for entry in model.metadata or []:
        if _text(entry.name) == name:
            data = model.buffers[entry.buffer].data
            return b"" if data is None else bytes(bytearray(data))
    return None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")
