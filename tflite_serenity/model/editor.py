"""Schema-level pieces of graph rewriting: read operator facts, build new
tensors, constants and operators, and place them in one subgraph.

The rewriter (``tflite_serenity/rewrite/``) decides *what* to rewrite on our
plain :class:`~tflite_serenity.graph.Graph`; this module is how it reads the
few schema facts it needs (options, quantization, constant data) and how it
writes the result. A :class:`SubgraphEditor` collects changes and returns an
edited copy of the model; the input model is never modified, and unchanged
parts (other subgraphs, untouched tensors, buffers) are shared, as in
:mod:`.edit`.

Operators are placed by position: :meth:`SubgraphEditor.replace` puts a list
of operators where an existing one stood. The caller keeps the stored order
valid (every new operator after the producers of its inputs, before the
consumers of its outputs); :func:`tflite_serenity.graph.build_graph` checks it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import UnsupportedModelError
from .ops import builtin_code
from .schema import BuiltinOperator, BuiltinOptions, TensorType, fb
from .types import NUMPY_BY_CODE


#: Fused activation names, as in the schema's ActivationFunctionType.
ACTIVATIONS = {v: k for k, v in vars(fb.ActivationFunctionType).items() if not k.startswith("_")}

#: The operators the editor can create from nothing: builtin code, options
#: type and options class.
_NEW_OPERATORS = {
    "ADD": (BuiltinOperator.ADD, BuiltinOptions.AddOptions, fb.AddOptionsT),
    "CONCATENATION": (BuiltinOperator.CONCATENATION, BuiltinOptions.ConcatenationOptions,
                      fb.ConcatenationOptionsT),
    "STRIDED_SLICE": (BuiltinOperator.STRIDED_SLICE, BuiltinOptions.StridedSliceOptions,
                      fb.StridedSliceOptionsT),
    "SLICE": (BuiltinOperator.SLICE, BuiltinOptions.SliceOptions, fb.SliceOptionsT),
    "PAD": (BuiltinOperator.PAD, BuiltinOptions.PadOptions, fb.PadOptionsT),
    "DYNAMIC_UPDATE_SLICE": (BuiltinOperator.DYNAMIC_UPDATE_SLICE, BuiltinOptions.DynamicUpdateSliceOptions,
                             fb.DynamicUpdateSliceOptionsT),
    "LESS": (BuiltinOperator.LESS, BuiltinOptions.LessOptions, fb.LessOptionsT),
    "WHILE": (BuiltinOperator.WHILE, BuiltinOptions.WhileOptions, fb.WhileOptionsT),
}


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: ``real = scale * (q - zero_point)``.

    Per-tensor when ``scale`` has one entry, else one entry per index of
    axis ``dimension``.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


def tensor_quantization(model: "fb.ModelT", subgraph: int, tensor: int) -> Quantization | None:
    """The tensor's affine quantization, or None when it has none (a float tensor)."""
    q = model.subgraphs[subgraph].tensors[tensor].quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    zero = q.zeroPoint if q.zeroPoint is not None and len(q.zeroPoint) else [0] * len(q.scale)
    return Quantization(tuple(float(x) for x in q.scale), tuple(int(z) for z in zero), int(q.quantizedDimension))


def is_sparse(model: "fb.ModelT", subgraph: int, tensor: int) -> bool:
    """Whether a constant is stored in a sparse format (we never slice those)."""
    return model.subgraphs[subgraph].tensors[tensor].sparsity is not None


def operator_options(model: "fb.ModelT", subgraph: int, op: int) -> dict[str, object]:
    """The builtin options of an operator as a plain dict (schema field names),
    e.g. ``{"axis": -1, "fusedActivationFunction": 0}``; empty when it has none."""
    options = model.subgraphs[subgraph].operators[op].builtinOptions
    if options is None:
        return {}
    return {k: v for k, v in vars(options).items() if isinstance(v, (int, float, bool, str, type(None)))}


def constant_array(model: "fb.ModelT", subgraph: int, tensor: int) -> np.ndarray:
    """The data of a constant tensor as a numpy array of its shape.

    Raises UnsupportedModelError for types we cannot read (packed, string).
    """
    t = model.subgraphs[subgraph].tensors[tensor]
    dtype = NUMPY_BY_CODE.get(t.type)
    data = model.buffers[t.buffer].data
    if dtype is None or data is None:
        raise UnsupportedModelError(f"subgraph {subgraph}: cannot read constant tensor {tensor} (type {t.type})")
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    return np.frombuffer(bytes(bytearray(data)), dtype=dtype).reshape(shape)


def has_metadata(model: "fb.ModelT", name: str) -> bool:
    """Whether the model carries a metadata entry called ``name``."""
    for entry in model.metadata or []:
        text = entry.name.decode("utf-8", "replace") if isinstance(entry.name, bytes) else entry.name
        if text == name:
            return True
    return False


class SubgraphEditor:
    """Edits of one subgraph, returned as a new model by :meth:`finish`.

    Parameters
    ----------
    model
        The model to start from; it is not modified.
    subgraph
        The index of the subgraph to edit.

    Examples
    --------
    Put ``a`` and ``b`` where operator 3 stood, then read the result::

        ed = SubgraphEditor(model, 0)
        ed.replace(3, [a, b])
        new_model, index_of = ed.finish()
    """

    def __init__(self, model: "fb.ModelT", subgraph: int):
        self._model = model
        self._s = subgraph
        old = model.subgraphs[subgraph]
        self._sub = copy.copy(old)
        self._tensors = list(old.tensors or [])
        self._operators = list(old.operators or [])
        self._first_new_tensor = len(self._tensors)
        self._buffers = list(model.buffers or [])
        self._codes = list(model.operatorCodes or [])
        self._placed: dict[int, list] = {}
        self._appended: list = []
        self._shared: dict[tuple, int] | None = None  # constant() tensors by type, shape and bytes

    # -- tensors ----------------------------------------------------------

    def activation_like(
        self,
        like: int,
        *,
        last_dim: int | None = None,
        shape: Sequence[int] | None = None,
        name: str,
        quantization: Quantization | None | bool = True,
    ) -> int:
        """A new activation tensor with the type of tensor ``like`` and its shape,
        optionally with a different last dimension or a whole new (static)
        ``shape``. ``quantization``: True copies that of ``like``, None gives
        none, a :class:`Quantization` sets it."""
        source = self._tensors[like]
        t = fb.TensorT()
        t.type = source.type
        if shape is not None:
            t.shape = np.asarray([int(d) for d in shape], dtype=np.int32)
            if source.shapeSignature is not None:
                t.shapeSignature = t.shape.copy()
        else:
            t.shape = _with_last(source.shape, last_dim)
            if source.shapeSignature is not None:
                t.shapeSignature = _with_last(source.shapeSignature, last_dim)
        t.hasRank = source.hasRank
        t.buffer = 0
        t.name = name
        if quantization is True:  # its own object; the arrays in it are never written, so they are shared
            t.quantization = None if source.quantization is None else _shallow(source.quantization)
        elif quantization is not None and quantization is not False:
            t.quantization = _quantization_t(quantization)
        return self._append_tensor(t)

    def tensor(self, dtype: int, shape: Sequence[int], *, name: str) -> int:
        """A new activation tensor of schema type ``dtype`` (e.g. ``TensorType.INT32``)
        and static ``shape``, without quantization (a loop counter, say)."""
        t = fb.TensorT()
        t.type = dtype
        t.shape = np.asarray([int(d) for d in shape], dtype=np.int32)
        t.hasRank = True
        t.buffer = 0
        t.name = name
        return self._append_tensor(t)

    def tensor_from(self, source: "fb.TensorT", *, name: str | None = None, activation: bool = False) -> int:
        """Tensor ``source`` of another subgraph brought into this one (renamed to
        ``name`` if given). A constant keeps its buffer, so its data stays once
        in the file; with ``activation`` (or when it has no data) the copy is
        an activation of its type, shape and quantization."""
        t = _shallow(source)
        if name is not None:
            t.name = name
        if activation:
            t.buffer = 0
            t.isVariable = False
        return self._append_tensor(t)

    def constant_slice(self, tensor: int, axis: int, start: int, stop: int, *, name: str) -> int:
        """A new constant holding ``tensor[..., start:stop, ...]`` along ``axis``.

        Per-channel quantization along the same axis is sliced with it; any
        other quantization is kept whole.
        """
        source = self._tensors[tensor]
        array = constant_array(self._model_view(), self._s, tensor)
        axis = axis % array.ndim
        index = [slice(None)] * array.ndim
        index[axis] = slice(start, stop)
        quant = copy.deepcopy(source.quantization)
        if quant is not None and quant.scale is not None and len(quant.scale) > 1 and quant.quantizedDimension == axis:
            quant.scale = np.asarray(quant.scale)[start:stop].copy()
            if quant.zeroPoint is not None and len(quant.zeroPoint) > 1:
                quant.zeroPoint = np.asarray(quant.zeroPoint)[start:stop].copy()
            for field in ("min", "max"):
                values = getattr(quant, field)
                if values is not None and len(values) > 1:
                    setattr(quant, field, np.asarray(values)[start:stop].copy())
        return self._new_constant(source, np.ascontiguousarray(array[tuple(index)]), name, quant)

    def constant_like(self, tensor: int, values: np.ndarray, *, name: str) -> int:
        """A new constant holding ``values`` in the type of constant ``tensor``
        (e.g. new paddings for a PAD), with its quantization."""
        source = self._tensors[tensor]
        dtype = constant_array(self._model_view(), self._s, tensor).dtype
        return self._new_constant(source, np.ascontiguousarray(np.asarray(values, dtype=dtype)), name,
                                  copy.deepcopy(source.quantization))

    def constant(self, values: np.ndarray, *, name: str) -> int:
        """A constant holding ``values`` (no quantization), typed by their dtype,
        e.g. the int32 begin, end and strides of a new STRIDED_SLICE.

        Equal values asked for twice share one tensor (named as first asked):
        TFLite Micro keeps bookkeeping in its arena for every tensor, so the
        many cuts of row strips would otherwise pay for the same strides again
        and again."""
        array = np.ascontiguousarray(values)
        types = [t for t, dtype in NUMPY_BY_CODE.items() if dtype == array.dtype]
        if not types:
            raise ValueError(f"no tensor type for dtype {array.dtype}")
        if self._shared is None:
            self._shared = self._small_constants()
        key = (types[0], array.shape, array.tobytes())
        if key not in self._shared:
            source = fb.TensorT()
            source.type = types[0]
            source.hasRank = True
            self._shared[key] = self._new_constant(source, array, name, None)
        return self._shared[key]

    def constant_zeros_like(self, tensor: int, *, name: str) -> int:
        """A new constant of zeros with the type, shape and quantization of ``tensor``."""
        source = self._tensors[tensor]
        array = constant_array(self._model_view(), self._s, tensor)
        return self._new_constant(source, np.zeros_like(array), name, copy.deepcopy(source.quantization))

    # -- operators --------------------------------------------------------

    def copy_operator(
        self, op: int, inputs: Sequence[int], outputs: Sequence[int], *, options: Mapping[str, object] = {}
    ) -> "fb.OperatorT":
        """A copy of operator ``op`` reading ``inputs`` and writing ``outputs``,
        with the given builtin option fields changed (not placed yet)."""
        source = self._operators[op]
        new = _shallow(source)
        new.inputs = [int(x) for x in inputs]
        new.outputs = [int(x) for x in outputs]
        new.intermediates = None
        new.mutatingVariableInputs = None
        if options:
            if source.builtinOptions is None:
                raise UnsupportedModelError(f"operator {op} has no builtin options to change")
            new.builtinOptions = copy.copy(source.builtinOptions)
            for key, value in options.items():
                if not hasattr(new.builtinOptions, key):
                    raise UnsupportedModelError(f"operator {op}'s options have no field {key!r}")
                setattr(new.builtinOptions, key, value)
        return new

    def new_operator(
        self, kind: str, inputs: Sequence[int], outputs: Sequence[int], *,
        options: Mapping[str, object] = {}, version: int = 1,
    ) -> "fb.OperatorT":
        """A new operator of a kind in ``_NEW_OPERATORS`` (``ADD``, ``CONCATENATION``,
        ``STRIDED_SLICE``, ``SLICE``, ``PAD``, ``DYNAMIC_UPDATE_SLICE``, ``LESS``, ``WHILE``)
        with the given option fields (not placed yet). Its operator code is reused when the model has one, else added
        with ``version``."""
        if kind not in _NEW_OPERATORS:
            raise ValueError(f"cannot create {kind} operators; known: {sorted(_NEW_OPERATORS)}")
        code, options_type, options_class = _NEW_OPERATORS[kind]
        op = fb.OperatorT()
        op.opcodeIndex = self._opcode(code, version)
        op.inputs = [int(x) for x in inputs]
        op.outputs = [int(x) for x in outputs]
        op.builtinOptionsType = options_type
        op.builtinOptions = options_class()
        for key, value in options.items():
            if not hasattr(op.builtinOptions, key):
                raise ValueError(f"{kind} options have no field {key!r}")
            setattr(op.builtinOptions, key, value)
        return op

    def append(self, new_ops: Sequence["fb.OperatorT"]) -> None:
        """Put ``new_ops`` after every operator of the subgraph (building a new subgraph, say)."""
        self._appended.extend(new_ops)

    def set_inputs_outputs(self, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        """Make ``inputs`` and ``outputs`` the subgraph's inputs and outputs (tensor indices of the edit)."""
        self._sub.inputs = [int(x) for x in inputs]
        self._sub.outputs = [int(x) for x in outputs]

    def replace(self, op: int, new_ops: Sequence["fb.OperatorT"]) -> None:
        """Put ``new_ops`` (in this order) where operator ``op`` stands, instead of it.
        An empty list removes it."""
        if op in self._placed:
            raise ValueError(f"operator {op} is already replaced")
        self._placed[op] = list(new_ops)

    @property
    def operators(self) -> list["fb.OperatorT"]:
        """The subgraph's operators before this edit (do not modify them)."""
        return self._operators

    # -- result -----------------------------------------------------------

    def finish(self) -> tuple["fb.ModelT", list[int]]:
        """The edited model, and for each tensor index of the edit (old and new
        ones) its index in the new model, or -1 if it was dropped.

        Tensors that no operator, graph input or output refers to any more and
        that this edit left behind or created are dropped; so is the data of
        constant buffers nothing refers to any more.
        """
        operators = []
        for i, op in enumerate(self._operators):
            operators.extend(self._placed.get(i, [op]))
        operators.extend(self._appended)
        used = set(_index_list(self._sub.inputs))
        used.update(_index_list(self._sub.outputs))
        highest = []  # per operator: the highest tensor index it refers to
        lists = []  # per operator: its inputs, outputs and intermediates as lists of ints (or None)
        for op in operators:
            top = -1
            found = []
            for indices in (op.inputs, op.outputs, op.intermediates):
                values = None if indices is None else _index_list(indices)
                if values:
                    used.update(values)
                    top = max(top, max(values))
                found.append(values)
            highest.append(top)
            lists.append(found)
        used.discard(-1)  # an omitted optional input
        candidates = {t for i, ops in self._placed.items() for t in _tensors_of(self._operators[i])}
        candidates.update(range(self._first_new_tensor, len(self._tensors)))
        dropped = {t for t in candidates if t not in used}
        index_of, kept = [], []
        for t, tensor in enumerate(self._tensors):
            if t in dropped:
                index_of.append(-1)
            else:
                index_of.append(len(kept))
                kept.append(tensor)

        def remap(indices):
            if indices is None:
                return None
            return [index_of[x] if x >= 0 else x for x in _index_list(indices)]

        if dropped:  # tensors below the first dropped one keep their indices: so do operators using only those
            first = min(dropped)
            lookup = index_of + [-1]  # -1, an omitted optional input, stays -1
            operators = [_renumbered(op, found, lookup) if top >= first else op
                         for op, top, found in zip(operators, highest, lists)]
        model = copy.copy(self._model)
        model.subgraphs = list(self._model.subgraphs)
        sub = self._sub
        sub.tensors = kept
        sub.operators = operators
        if dropped:
            sub.inputs = remap(sub.inputs)
            sub.outputs = remap(sub.outputs)
        model.subgraphs[self._s] = sub
        model.operatorCodes = self._codes
        model.buffers = self._buffers
        if dropped and model.signatureDefs:
            model.signatureDefs = [_remapped_signature(d, self._s, index_of) for d in model.signatureDefs]
        _free_orphaned_buffers(model, {self._tensors[t].buffer for t in dropped})
        return model, index_of

    # -- internals --------------------------------------------------------

    def _append_tensor(self, tensor: "fb.TensorT") -> int:
        self._tensors.append(tensor)
        return len(self._tensors) - 1

    def _new_constant(self, source: "fb.TensorT", array: np.ndarray, name: str, quant) -> int:
        buffer = fb.BufferT()
        buffer.data = np.frombuffer(array.tobytes(), dtype=np.uint8).copy()
        self._buffers.append(buffer)
        t = fb.TensorT()
        t.type = source.type
        t.shape = np.asarray(array.shape, dtype=np.int32)
        t.hasRank = source.hasRank
        t.buffer = len(self._buffers) - 1
        t.name = name
        t.quantization = quant
        return self._append_tensor(t)

    def _small_constants(self) -> dict[tuple, int]:
        """The subgraph's int32 constants of up to 8 values, by type, shape and
        bytes: what :meth:`constant` may share (begin, end and strides of
        earlier edits, say). Graph inputs and outputs are left alone."""
        ends = set(int(x) for x in (self._sub.inputs if self._sub.inputs is not None else []))
        ends.update(int(x) for x in (self._sub.outputs if self._sub.outputs is not None else []))
        found: dict[tuple, int] = {}
        for index, t in enumerate(self._tensors):
            if (t.type != TensorType.INT32 or t.quantization is not None or t.isVariable or index in ends
                    or not 0 < t.buffer < len(self._buffers)):
                continue
            data = self._buffers[t.buffer].data
            if data is None or not 0 < len(data) <= 32:
                continue
            shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
            array = np.frombuffer(bytes(bytearray(data)), dtype=np.int32)
            if array.size == int(np.prod(shape, dtype=np.int64)):
                found.setdefault((t.type, shape, array.reshape(shape).tobytes()), index)
        return found

    def _model_view(self) -> "fb.ModelT":
        """The model as edited so far, for reading constants (new buffers included)."""
        view = copy.copy(self._model)
        view.buffers = self._buffers
        view.subgraphs = list(self._model.subgraphs)
        sub = copy.copy(self._sub)
        sub.tensors = self._tensors
        view.subgraphs[self._s] = sub
        return view

    def _opcode(self, code: int, version: int) -> int:
        # an entry of a lower version may not cover the new operator's types
        matches = [i for i, c in enumerate(self._codes) if builtin_code(c) == code and (c.version or 1) >= version]
        if matches:
            return max(matches, key=lambda i: (self._codes[i].version, -i))
        entry = fb.OperatorCodeT()
        entry.builtinCode = code
        entry.deprecatedBuiltinCode = min(code, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        entry.version = version
        self._codes.append(entry)
        return len(self._codes) - 1


def _with_last(shape, last_dim):
    values = [int(d) for d in (shape if shape is not None else [])]
    if last_dim is not None:
        if not values:
            raise ValueError("a scalar has no last dimension to change")
        values[-1] = int(last_dim)
    return np.asarray(values, dtype=np.int32)


def _quantization_t(q: Quantization) -> "fb.QuantizationParametersT":
    out = fb.QuantizationParametersT()
    out.scale = np.asarray(q.scale, dtype=np.float32)
    out.zeroPoint = np.asarray(q.zero_point, dtype=np.int64)
    out.quantizedDimension = q.dimension
    return out


def _tensors_of(op) -> list[int]:
    return [int(x) for idx in (op.inputs, op.outputs, op.intermediates) for x in (idx if idx is not None else [])
            if x >= 0]


def _index_list(indices) -> list[int]:
    """A vector of tensor indices (a numpy array, a list, or None) as a list of ints."""
    if indices is None:
        return []
    if isinstance(indices, np.ndarray):
        return indices.tolist()
    return list(map(int, indices))


def _shallow(obj):
    """A shallow copy of a schema object (``copy.copy`` without its generic machinery:
    the generated classes keep their fields in ``__dict__`` only)."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


def _renumbered(op, lists, lookup: list[int]):
    """``op`` with its tensor ``lists`` (inputs, outputs, intermediates) mapped through ``lookup``."""
    new = _shallow(op)
    inputs, outputs, intermediates = lists
    new.inputs = None if inputs is None else [lookup[x] for x in inputs]
    new.outputs = None if outputs is None else [lookup[x] for x in outputs]
    new.intermediates = None if intermediates is None else [lookup[x] for x in intermediates]
    return new


def _remapped_signature(sig, subgraph: int, index_of: list[int]):
    if sig.subgraphIndex != subgraph:
        return sig
    new = copy.copy(sig)
    for field in ("inputs", "outputs"):
        maps = []
        for entry in getattr(sig, field) or []:
            entry = copy.copy(entry)
            entry.tensorIndex = index_of[entry.tensorIndex]
            maps.append(entry)
        setattr(new, field, maps)
    return new


def _free_orphaned_buffers(model: "fb.ModelT", buffers: set[int]) -> None:
    """Empty the given buffers when no tensor or metadata refers to them any more
    (indices stay stable; an empty buffer costs a few bytes)."""
    buffers.discard(0)
    if not buffers:
        return
    for sub in model.subgraphs:
        for t in sub.tensors or []:
            buffers.discard(t.buffer)
    for entry in model.metadata or []:
        buffers.discard(entry.buffer)
    if buffers:
        model.buffers = list(model.buffers)
        for b in buffers:
            model.buffers[b] = fb.BufferT()
