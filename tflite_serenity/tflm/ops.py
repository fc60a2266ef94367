"""Which ``MicroMutableOpResolver`` method registers each operator of a model.

A firmware registers the kernels its model uses in a
``tflite::MicroMutableOpResolver<N>``, one ``Add...()`` call per operator
type, with ``N`` the number of types. The method names below are those of
TFLite Micro's ``tensorflow/lite/micro/micro_mutable_op_resolver.h`` (checked
against tflite-micro 90b983c, 2026-08-20, the build our 32-bit costs come
from). Custom operators TFLite Micro ships a kernel for (the signal library,
detection post-processing, Ethos-U) have their own ``Add...()``; any other
custom operator's kernel only the firmware has, so the header takes it as a
parameter and registers it with ``AddCustom``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UnsupportedModelError

#: Builtin operator -> the ``MicroMutableOpResolver`` method that registers it.
BUILTIN_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs", "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast", "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D",
    "COS": "AddCos", "CUMSUM": "AddCumSum", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice", "ELU": "AddElu", "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "EQUAL": "AddEqual", "EXP": "AddExp", "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv", "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather", "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual", "HARD_SWISH": "AddHardSwish", "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean",
    "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound",
    "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze", "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv", "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack", "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}

#: Custom operator code -> the method for the custom kernels TFLite Micro ships.
CUSTOM_METHODS = {
    "CIRCULAR_BUFFER": "AddCircularBuffer", "SignalDelay": "AddDelay", "SignalEnergy": "AddEnergy",
    "SignalFftAutoScale": "AddFftAutoScale", "SignalFilterBank": "AddFilterBank",
    "SignalFilterBankLog": "AddFilterBankLog",
    "SignalFilterBankSpectralSubtraction": "AddFilterBankSpectralSubtraction",
    "SignalFilterBankSquareRoot": "AddFilterBankSquareRoot", "SignalFramer": "AddFramer",
    "SignalIrfft": "AddIrfft", "SignalOverlapAdd": "AddOverlapAdd", "SignalPCAN": "AddPCAN",
    "SignalRfft": "AddRfft", "SignalStacker": "AddStacker", "SignalWindow": "AddWindow",
    "TFLM_DECODE": "AddDecode", "TFLite_Detection_PostProcess": "AddDetectionPostprocess",
    "ethos-u": "AddEthosU",
}

_CUSTOM = "CUSTOM:"


@dataclass(frozen=True)
class Registration:
    """How the firmware registers one operator type of the model.

    Attributes
    ----------
    kind : str
        ``"CONV_2D"`` for builtins, ``"CUSTOM:<code>"`` for custom operators.
    method : str or None
        ``"AddConv2D"``...; ``"AddCustom"`` for a custom operator whose
        kernel the firmware passes in; None when TFLite Micro has no method.
    parameter : str or None
        For ``AddCustom``: the C++ parameter that takes the kernel.
    """

    kind: str
    method: str | None
    parameter: str | None = None

    @property
    def custom_code(self) -> str | None:
        """The custom operator's code, or None for a builtin."""
        return self.kind[len(_CUSTOM):] if self.kind.startswith(_CUSTOM) else None

    def call(self) -> str:
        """The C++ call on ``resolver``, e.g. ``resolver.AddConv2D()``."""
        if self.method == "AddCustom":
            return f'resolver.AddCustom("{_c_string(self.custom_code or "")}", {self.parameter})'
        return f"resolver.{self.method}()"


def model_operator_kinds(model: bytes, *, tree=None) -> tuple[str, ...]:
    """The distinct operator types of all subgraphs of ``model``, sorted."""
    from ..model import read_model
    from ..model_version import graphs_of

    return tuple(sorted({op.kind for g in graphs_of(read_model(model) if tree is None else tree) for op in g.operators}))


def registrations(kinds: "tuple[str, ...] | list[str]", *, allow_missing: bool = False) -> tuple[Registration, ...]:
    """One :class:`Registration` per kind, in the order given.

    Raises
    ------
    UnsupportedModelError
        When TFLite Micro has no method for a builtin operator, unless
        ``allow_missing`` (then its ``method`` is None).
    """
    out, used = [], set()
    for kind in kinds:
        code = kind[len(_CUSTOM):] if kind.startswith(_CUSTOM) else None
        if code is None:
            out.append(Registration(kind, BUILTIN_METHODS.get(kind)))
        elif code in CUSTOM_METHODS:
            out.append(Registration(kind, CUSTOM_METHODS[code]))
        else:
            out.append(Registration(kind, "AddCustom", _parameter(code, used)))
    missing = [r.kind for r in out if r.method is None]
    if missing and not allow_missing:
        raise UnsupportedModelError(
            f"TFLite Micro has no MicroMutableOpResolver method for {', '.join(missing)}: no firmware can "
            "register it; add --allow-missing-ops to write the header without it")
    return tuple(out)


def _parameter(code: str, used: set[str]) -> str:
    """A C++ identifier for the parameter taking ``code``'s kernel, unique among ``used``."""
    stem = re.sub(r"[^0-9A-Za-z]+", "_", code).strip("_").lower() or "custom"
    name = f"{stem}_kernel" if stem[0].isalpha() else f"op_{stem}_kernel"
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}{n}", n + 1
    used.add(candidate)
    return candidate


def _c_string(text: str) -> str:
    """``text`` inside a C string literal: printable ASCII as is, other bytes as octal escapes."""
    return "".join(chr(b) if 32 <= b < 127 and b not in b'"\\?' else f"\\{b:03o}" for b in text.encode())
