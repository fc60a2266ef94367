"""TFLite Micro's arena on a 32-bit Cortex-M with CMSIS-NN, allocation by allocation.

``MicroInterpreter::AllocateTensors`` (TFLite Micro 90b983c2) fills one arena
from both ends: persistent data from the top down (the *tail*), the planned
tensors and, while preparing, temporary data from the bottom up. Every
allocation is aligned: the interpreter's structs to 4 bytes on a 32-bit Arm,
each kernel's ``AllocatePersistentBuffer`` to 16. The arena is too small if
the two ends meet at any step, and on a model of a few hundred bytes of
activations that happens while preparing, not once the head is planned.

:func:`device_arena` replays those steps for one model and one kernel
library and returns the smallest arena (a multiple of 16, the arena
``alignas(16)``) for which none of them fails. Sizes are the structs'
``sizeof`` and ``alignof`` on 32-bit Arm (``arm-none-eabi-g++`` 12.2, the
build of docs/device.md), read from TFLite Micro's and CMSIS-NN's sources:

* ``MicroAllocator::Create``: the arena's allocator, the greedy planner and
  the allocator itself (:data:`INTERPRETER_OBJECTS`);
* ``StartModelAllocation``: the builtin-data allocator, the scratch request
  area at the head (``kMaxScratchBuffersPerOp`` requests), per subgraph its
  ``SubgraphAllocations`` and ``TfLiteEvalTensor`` array, and a
  ``NodeAndRegistration`` per operator;
* each operator's parsed options (``TfLite*Params``, :data:`BUILTIN_DATA`);
* each kernel's ``Init`` (its ``OpData``, :data:`OP_DATA`) and ``Prepare``:
  per-channel multipliers and shifts, CMSIS-NN's kernel sums, BATCH_MATMUL's
  transposed constant, while temporary ``TfLiteTensor`` structs (with their
  quantization) sit on top of the scratch request area;
* ``FinishModelAllocation``: the scratch buffer handles, variable tensors,
  and, temporarily, an ``AllocationInfo`` per tensor and scratch buffer and
  the greedy planner's 40 bytes per planned buffer; then the planned head;
* the interpreter's input and output ``TfLiteTensor`` structs.

The head itself comes from :func:`.simulate.stored_head` (TFLite Micro's
planner with the library's scratch buffers). Kinds missing from the tables
are charged :data:`UNKNOWN_OP_DATA` and :data:`UNKNOWN_BUILTIN_DATA`, more
than any listed kind but the LSTM, so the figure errs high for them.
Struct sizes are those of GCC for bare-metal Arm, whose enums are one byte
(``TfLiteMulParams`` holds one); on the device runs of docs/device.md (int8,
float32 and int16 models) the replay's need was the device's smallest
arena up to rounding to 16 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..graph import Graph
from .arena_size import ALIGNMENT

#: sizeof(SingleArenaBufferAllocator), sizeof(GreedyMemoryPlanner),
#: sizeof(MicroAllocator): placed at the top of the arena by ``MicroAllocator::Create``.
INTERPRETER_OBJECTS = (36, 44, 36)
BUILTIN_DATA_ALLOCATOR = 8  # sizeof(MicroBuiltinDataAllocator)
SUBGRAPH_ALLOCATIONS = 8  # sizeof(SubgraphAllocations), per subgraph
EVAL_TENSOR = 12  # sizeof(TfLiteEvalTensor), per tensor of each subgraph
NODE_AND_REGISTRATION = 32  # per operator
TFLITE_TENSOR = 32  # sizeof(TfLiteTensor) with TF_LITE_STATIC_MEMORY
AFFINE_QUANTIZATION = 12  # sizeof(TfLiteAffineQuantization); its zero points: a TfLiteIntArray
SCRATCH_REQUEST = 12  # sizeof(internal::ScratchBufferRequest)
MAX_SCRATCH_PER_OP = 12  # kMaxScratchBuffersPerOp: the request area keeps room for this many more
SCRATCH_HANDLE = 4  # sizeof(ScratchBufferHandle)
ALLOCATION_INFO = 24  # sizeof(AllocationInfo), per tensor and scratch buffer while planning
PLANNER_PER_BUFFER = 40  # GreedyMemoryPlanner::per_buffer_size()
WORD = 4  # alignof of the interpreter's structs, and sizeof(int) and of a pointer

#: ``(sizeof, alignof)`` of the options struct TFLite Micro's parser
#: allocates for each kind (``flatbuffer_conversions.cc``); kinds in neither
#: this nor :data:`NO_BUILTIN_DATA` are charged :data:`UNKNOWN_BUILTIN_DATA`.
BUILTIN_DATA = {
    "ADD": (2, 1), "SUB": (2, 1), "MUL": (1, 1), "DIV": (1, 1),
    "AVERAGE_POOL_2D": (40, 4), "MAX_POOL_2D": (40, 4), "L2_POOL_2D": (40, 4),
    "BATCH_MATMUL": (3, 1), "CONCATENATION": (8, 4),
    "CONV_2D": (28, 4), "DEPTHWISE_CONV_2D": (28, 4), "TRANSPOSE_CONV": (16, 4),
    "FULLY_CONNECTED": (5, 1), "IF": (8, 4), "WHILE": (8, 4), "LEAKY_RELU": (4, 4),
    "MIRROR_PAD": (1, 1), "MEAN": (1, 1), "SUM": (1, 1), "REDUCE_MAX": (1, 1), "REDUCE_MIN": (1, 1),
    "REDUCE_PROD": (1, 1), "RESHAPE": (36, 4), "SOFTMAX": (4, 4), "STRIDED_SLICE": (24, 4),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (16, 4),
}
#: Kinds TFLite Micro parses without allocating options.
NO_BUILTIN_DATA = frozenset({
    "ABS", "ADD_N", "DEQUANTIZE", "EQUAL", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "LESS", "LESS_EQUAL",
    "LOGISTIC", "MAXIMUM", "MINIMUM", "NEG", "NOT_EQUAL", "PAD", "PADV2", "QUANTIZE", "RELU", "RELU6", "RSQRT",
    "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE", "EXP", "LOG", "FLOOR", "PRELU",
})
UNKNOWN_BUILTIN_DATA = (48, 4)

#: sizeof the ``OpData`` each kernel allocates in ``Init`` on 32-bit Arm, in
#: the build of docs/device.md (TFLite Micro's CMSIS-NN kernels where it has
#: them, its reference kernels for the rest); kinds in neither this nor
#: :data:`NO_OP_DATA` are charged :data:`UNKNOWN_OP_DATA`.
OP_DATA = {
    "ADD": 60, "AVERAGE_POOL_2D": 36, "MAX_POOL_2D": 36, "BATCH_MATMUL": 36,
    "CONCATENATION": 24, "CONV_2D": 60, "DEPTHWISE_CONV_2D": 60, "TRANSPOSE_CONV": 76,
    "FULLY_CONNECTED": 72, "DEQUANTIZE": 32, "QUANTIZE": 32, "EQUAL": 32, "NOT_EQUAL": 32,
    "GREATER": 32, "GREATER_EQUAL": 32, "LESS": 32, "LESS_EQUAL": 32, "IF": 8, "WHILE": 8,
    "LEAKY_RELU": 24, "LOGISTIC": 16, "TANH": 16, "MEAN": 44, "SUM": 44, "REDUCE_MAX": 44,
    "REDUCE_MIN": 44, "MIRROR_PAD": 20, "MUL": 36, "PAD": 56, "RELU": 28, "RSQRT": 28,
    "SOFTMAX": 64, "SQUARED_DIFFERENCE": 112, "STRIDED_SLICE": 84, "SUB": 52,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": 912,
}
#: Kinds whose kernel allocates no ``OpData``.
NO_OP_DATA = frozenset({"RESHAPE", "NEG", "TRANSPOSE", "ADD_N"})
#: ADD_N allocates its OpData while preparing, and only for int8.
ADD_N_OP_DATA = 40
#: Kinds whose kernel copies the output's dims into the arena while
#: preparing (``CreateWritableTensorDimsWithCopy``): a TfLiteIntArray of the
#: output's rank. RESHAPE does so only for a -1 in the output's shape.
WRITABLE_OUTPUT_DIMS = frozenset({"BATCH_MATMUL", "GATHER", "GATHER_ND", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
                                  "EMBEDDING_LOOKUP", "L2_POOL_2D"})
UNKNOWN_OP_DATA = 128
#: Kinds that keep an int32 multiplier and an int32 shift per output channel,
#: and where the channels are in the filter: CONV_2D and DEPTHWISE_CONV_2D
#: for int8 and int16 inputs, TRANSPOSE_CONV for any, FULLY_CONNECTED for a
#: filter quantized per channel (one per scale).
PER_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0, "FULLY_CONNECTED": 0}
#: sizeof of BATCH_MATMUL's quantization struct (for non-float inputs).
BATCH_MATMUL_QUANTIZATION = 28

_TYPE_BYTES = {"FLOAT32": 4, "INT32": 4, "UINT32": 4, "INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2,
               "FLOAT16": 2, "INT64": 8, "FLOAT64": 8, "BOOL": 1}


def _up(n: int, alignment: int) -> int:
    return -(-n // alignment) * alignment


@dataclass(frozen=True)
class DeviceArena:
    """The smallest arena for a model on a 32-bit device, and its parts.

    Attributes
    ----------
    arena_size : int
        The smallest multiple of 16 with which every allocation succeeds.
    head : int
        The planned tensors and scratch buffers.
    tail : int
        Persistent bytes once allocated (from the top of the arena).
    preparing : int
        The most the arena held at once before the head was planned: the tail
        at that step plus the scratch requests and temporary data.
    library : str
        The kernel library replayed.
    parts : tuple of (str, int, int)
        What the tail holds, alignment included: ``("tensors", bytes,
        tensors)``, ``("nodes", bytes, operators)``, ``("kernel data", bytes,
        operators)`` (parsed options, OpData and what kernels keep beside it)
        and ``("channels", bytes, output channels)`` (per-channel
        multipliers and shifts); the rest is the interpreter's own objects,
        the scratch buffer handles, variable tensors and the input and output
        tensor structs.
    """

    arena_size: int
    head: int
    tail: int
    preparing: int
    library: str = ""
    parts: tuple[tuple[str, int, int], ...] = ()


class _Arena:
    """The two ends of the arena while ``AllocateTensors`` runs: the tail,
    bytes used from the top, each allocation aligned down, and what each part
    of it took (alignment included); and the most the two ends held at once."""

    def __init__(self) -> None:
        self.tail = 0
        self.parts: dict[str, int] = {}
        self.need = 0

    def take(self, size: int, alignment: int = WORD, part: str = "interpreter") -> None:
        """A persistent allocation of ``size`` bytes."""
        before = self.tail
        self.tail = _up(self.tail + size, alignment)
        self.parts[part] = self.parts.get(part, 0) + self.tail - before

    def fits(self, bottom: int) -> None:
        """The bottom end holds ``bottom`` bytes now: the arena must hold both ends."""
        self.need = max(self.need, self.tail + bottom)


def _quantization_bytes(tensor_t) -> int:
    """What TFLite Micro allocates for a tensor's quantization when it makes
    a ``TfLiteTensor`` of it: an affine-quantization struct and an int array
    of one zero point per scale (none without scales and zero points)."""
    q = getattr(tensor_t, "quantization", None)
    scales = 0 if q is None or q.scale is None else len(q.scale)
    points = 0 if q is None or q.zeroPoint is None else len(q.zeroPoint)
    if not scales or not points:
        return 0
    return AFFINE_QUANTIZATION + _up(WORD + WORD * scales, WORD)


def _tensor_struct_bytes(tensor_t) -> int:
    return TFLITE_TENSOR + _quantization_bytes(tensor_t)


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= max(int(d), 0)
    return n


def kernel_sums_of(graph, op, library: str) -> list[int]:
    """Bytes of each buffer CMSIS-NN's kernel for ``op`` keeps beyond the
    reference kernel's: on MVE, an int32 per output channel of an int8
    FULLY_CONNECTED with constant weights that does not run as a 1x1
    convolution (``fully_connected.cc``, ``KERNELS_OPTIMIZED_FOR_SPEED``);
    with either library, eight bias sums of the state size for an
    UNIDIRECTIONAL_SEQUENCE_LSTM with an int16 cell state, int32 for int8
    activations and int64 for int16 ones (``unidirectional_sequence_lstm.cc``)."""
    if library == "reference":
        return []
    if op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM" and len(op.inputs) > 19 and min(op.inputs[18:20]) >= 0:
        data, state, cell = (graph.tensors[t] for t in (op.inputs[0], op.inputs[18], op.inputs[19]))
        width = {"INT8": 4, "INT16": 8}.get(data.dtype)
        if width and cell.dtype == "INT16" and state.shape:
            return [width * state.shape[-1]] * 8
        return []
    if library != "cmsis-nn-mve" or op.kind != "FULLY_CONNECTED":
        return []
    if len(op.inputs) < 2 or min(op.inputs[:2]) < 0 or not op.outputs:
        return []
    data, weights, out = (graph.tensors[t] for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if data.dtype != "INT8" or weights.dtype != "INT8" or not weights.has_data or not weights.shape:
        return []
    if len(out.shape) > 2 and weights.shape[-1] % 4 == 0:
        return []  # a 1x1 convolution: no kernel sums
    return [4 * out.shape[-1]]


def _persistent_requests(graph: Graph, sub_t, op_t, op, library: str) -> list[tuple[int, str]]:
    """Bytes of each ``AllocatePersistentBuffer`` the kernel of ``op`` makes
    while preparing, in order (its ``Init`` OpData excluded), each with the
    part of the tail it belongs to (``channels`` or ``kernel data``)."""
    tensors = graph.tensors
    channels: list[int] = []
    sizes: list[int] = []
    if op.kind in PER_CHANNEL_AXIS and len(op.inputs) > 1 and min(op.inputs[:2]) >= 0:
        data = tensors[op.inputs[2 if op.kind == "TRANSPOSE_CONV" else 0]]
        weights = tensors[op.inputs[1]]
        axis = PER_CHANNEL_AXIS[op.kind]
        if op.kind == "FULLY_CONNECTED":  # only a filter quantized per channel, one entry per scale
            q = sub_t.tensors[op.inputs[1]].quantization
            scales = 0 if q is None or q.scale is None else len(q.scale)
            if data.dtype in ("INT8", "INT16") and scales > 1:
                channels += [WORD * scales] * 2
        elif (op.kind == "TRANSPOSE_CONV" or data.dtype in ("INT8", "INT16")) and len(weights.shape) > axis:
            channels += [WORD * weights.shape[axis]] * 2
    if op.kind == "BATCH_MATMUL" and len(op.inputs) >= 2:
        options = getattr(op_t, "builtinOptions", None)
        adj_x, adj_y = bool(getattr(options, "adjX", False)), bool(getattr(options, "adjY", False))
        for transposed, index in ((adj_x, 0), (not adj_y, 1)):
            if transposed:
                t = tensors[op.inputs[index]]
                sizes += [EVAL_TENSOR, WORD + WORD * len(t.shape), _elements(t.shape) * _TYPE_BYTES.get(t.dtype, 4)]
    if op.outputs and op.outputs[0] >= 0:
        out = tensors[op.outputs[0]]
        if op.kind in WRITABLE_OUTPUT_DIMS or (op.kind == "RESHAPE" and any(d < 0 for d in out.shape)):
            rank = max(len(tensors[t].shape) for t in op.inputs[:2]) if op.kind == "BATCH_MATMUL" else len(out.shape)
            sizes.append(WORD + WORD * rank)
        if op.kind == "ADD_N" and out.dtype == "INT8":
            sizes.append(ADD_N_OP_DATA)
    if op.kind == "BATCH_MATMUL" and len(op.inputs) >= 2 and tensors[op.inputs[0]].dtype != "FLOAT32":
        sizes.append(BATCH_MATMUL_QUANTIZATION)
    sizes += kernel_sums_of(graph, op, library)
    return [(size, "channels") for size in channels] + [(size, "kernel data") for size in sizes]


def _requests_area(requested: int) -> int:
    """Bytes at the bottom of the arena for the scratch requests so far and
    room for ``kMaxScratchBuffersPerOp`` more (``FinishPrepareNodeAllocations``)."""
    return SCRATCH_REQUEST * (requested + MAX_SCRATCH_PER_OP)


def _start(arena: _Arena, graphs: Sequence[Graph]) -> None:
    """``MicroAllocator::Create``, ``StartModelAllocation``, the parser and each kernel's ``Init``."""
    for size in (*INTERPRETER_OBJECTS, BUILTIN_DATA_ALLOCATOR):
        arena.take(size)
    arena.fits(_requests_area(0))
    arena.take(SUBGRAPH_ALLOCATIONS * len(graphs))
    for graph in graphs:
        arena.take(EVAL_TENSOR * len(graph.tensors), part="tensors")
    for graph in graphs:
        arena.take(NODE_AND_REGISTRATION * graph.num_operators, part="nodes")
    for graph in graphs:  # parsed options, operator by operator
        for op in graph.operators:
            if op.kind in BUILTIN_DATA:
                arena.take(*BUILTIN_DATA[op.kind], part="kernel data")
            elif op.kind not in NO_BUILTIN_DATA:
                arena.take(*UNKNOWN_BUILTIN_DATA, part="kernel data")
    for graph in graphs:  # each kernel's Init
        for op in graph.operators:
            if op.kind in OP_DATA:
                arena.take(OP_DATA[op.kind], ALIGNMENT, "kernel data")
            elif op.kind not in NO_OP_DATA:
                arena.take(UNKNOWN_OP_DATA, ALIGNMENT, "kernel data")
    arena.fits(_requests_area(0))


def _prepare(arena: _Arena, tree, graphs: Sequence[Graph], library: str,
             scratch_counts: Sequence[int]) -> tuple[int, int]:
    """Each kernel's ``Prepare``: temporary ``TfLiteTensor`` structs of the
    operator's tensors on top of the request area, then what the kernel
    keeps. Returns the scratch requests and the output channels counted."""
    requested = channels = 0
    counts = iter(scratch_counts)
    for graph, sub_t in zip(graphs, tree.subgraphs):
        for op, op_t in zip(graph.operators, sub_t.operators):
            temporary = sum(_tensor_struct_bytes(sub_t.tensors[t]) for t in (*op.inputs, *op.outputs) if t >= 0)
            arena.fits(_requests_area(requested) + temporary)
            for size, part in _persistent_requests(graph, sub_t, op_t, op, library):
                arena.take(size, ALIGNMENT, part)
                channels += size // WORD if part == "channels" else 0
            requested += next(counts, 0)
            arena.fits(_requests_area(requested))
    return requested, channels // 2


def _plan(arena: _Arena, graphs: Sequence[Graph], requested: int, planned: int) -> None:
    """``FinishModelAllocation`` up to the plan: the scratch buffer handles,
    then, above the request area, the subgraph offsets and an
    ``AllocationInfo`` per tensor and scratch buffer; the variable tensors
    (all placed online: an offline plan that pins one makes the figure err
    high); the planner's arrays in the 16-aligned room left."""
    if requested:
        arena.take(SCRATCH_HANDLE * requested)
    tensors = sum(len(g.tensors) for g in graphs)
    info = _requests_area(requested) + WORD * len(graphs) + ALLOCATION_INFO * (tensors + requested)
    arena.fits(info)
    for graph in graphs:
        for tensor in graph.tensors:
            if tensor.is_variable:
                arena.take(_elements(tensor.shape) * _TYPE_BYTES.get(tensor.dtype, 4), ALIGNMENT)
    arena.need = max(arena.need, _up(arena.tail, ALIGNMENT) + _up(info, ALIGNMENT) + PLANNER_PER_BUFFER * planned)


def _finish(arena: _Arena, tree, head: int) -> None:
    """The planned head, then the interpreter's input and output tensors: a
    pointer array and a ``TfLiteTensor`` with its quantization for each."""
    arena.fits(head)
    main = tree.subgraphs[0]
    for ends in (main.inputs, main.outputs):
        arena.take(WORD * len(ends), ALIGNMENT)
        for t in ends:
            arena.take(TFLITE_TENSOR)
            quantization = _quantization_bytes(main.tensors[t])
            if quantization:
                arena.take(AFFINE_QUANTIZATION)
                arena.take(quantization - AFFINE_QUANTIZATION)
            arena.fits(head)


def device_arena(tree, graphs: Sequence[Graph], head: int, library: str,
                 scratch_counts: Sequence[int], planned: int) -> DeviceArena:
    """Replay ``AllocateTensors`` for the model ``tree`` (subgraphs ``graphs``)
    with ``library``'s kernels on a 32-bit device.

    Parameters
    ----------
    tree : ModelT
        The model: operator options and tensors' quantization.
    graphs : sequence of Graph
        Its subgraphs, in order.
    head : int
        The planned head (:func:`.simulate.stored_head`).
    library : str
        ``cmsis-nn-dsp`` or ``cmsis-nn-mve``.
    scratch_counts : sequence of int
        For each operator, subgraph by subgraph in stored order: how many
        scratch buffers its kernel requests (:func:`scratch_counts`).
    planned : int
        Buffers TFLite Micro's planner places (tensors and scratch buffers).

    Returns
    -------
    DeviceArena
    """
    arena = _Arena()
    _start(arena, graphs)
    requested, channels = _prepare(arena, tree, graphs, library, scratch_counts)
    _plan(arena, graphs, requested, planned)
    preparing = arena.need
    _finish(arena, tree, head)
    operators = sum(g.num_operators for g in graphs)
    counted = {"tensors": sum(len(g.tensors) for g in graphs), "nodes": operators, "kernel data": operators,
               "channels": channels}
    parts = tuple((name, arena.parts.get(name, 0), n) for name, n in counted.items())
    return DeviceArena(_up(arena.need, ALIGNMENT), head, arena.tail, preparing, library, parts)


def _per_channel_dense(tree, graph: Graph, op) -> bool:
    """An int8 FULLY_CONNECTED whose filter is quantized per channel: CMSIS-NN
    then asks no scratch buffer for its multipliers where it runs as a 1x1
    convolution (``fully_connected.cc``); :mod:`.scratch` counts that request
    whatever the quantization."""
    if op.kind != "FULLY_CONNECTED" or len(op.inputs) < 2 or op.inputs[1] < 0:
        return False
    q = tree.subgraphs[graph.subgraph].tensors[op.inputs[1]].quantization
    return q is not None and q.scale is not None and len(q.scale) > 1


def scratch_counts(tree, graphs: Sequence[Graph], library: str) -> tuple[list[int], int]:
    """Per operator (subgraph by subgraph, stored order) the scratch buffers
    ``library``'s kernel requests, and how many buffers TFLite Micro's
    planner places (tensors and scratch buffers) for the model."""
    from ..errors import SerenityError
    from .buffers import model_buffers
    from .scratch import scratch_requests

    counts, dropped = [], 0
    for graph in graphs:
        for op in graph.operators:
            n = len(scratch_requests(graph, op.index, library))
            if n and library != "reference" and _per_channel_dense(tree, graph, op):
                dropped += n
                n = 0
            counts.append(n)
    try:
        planned = len(model_buffers(graphs, kernels=(library,)).buffers) - dropped
    except SerenityError:  # cannot size the tensors as TFLite Micro does: count every one
        planned = sum(len(g.tensors) for g in graphs) + sum(counts)
    return counts, planned
