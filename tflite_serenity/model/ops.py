"""Schema-level facts about operators: their names and the subgraphs they call."""

from __future__ import annotations

from .schema import BUILTIN_NAMES, BuiltinOperator, fb

# Option fields that hold a subgraph index (control flow and StableHLO regions).
_SUBGRAPH_FIELDS = (
    "thenSubgraphIndex", "elseSubgraphIndex", "condSubgraphIndex", "bodySubgraphIndex",
    "initSubgraphIndex", "subgraph", "decompositionSubgraphIndex",
    "updateComputationSubgraphIndex", "comparatorSubgraphIndex",
)


def builtin_code(code: "fb.OperatorCodeT") -> int:
    """The operator's builtin code, reading both the old int8 and the new int32 field."""
    return max(int(code.deprecatedBuiltinCode), int(code.builtinCode))


def opcode_name(model: "fb.ModelT", op: "fb.OperatorT") -> str:
    """``"CONV_2D"`` for builtins; ``"CUSTOM:<code>"`` for custom operators."""
    code = model.operatorCodes[op.opcodeIndex]
    value = builtin_code(code)
    if value == BuiltinOperator.CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM:{custom}"
    return BUILTIN_NAMES.get(value, f"BUILTIN_{value}")


def called_subgraphs(op: "fb.OperatorT") -> list[int]:
    """Indices of the subgraphs an operator runs (IF, WHILE, CALL_ONCE, StableHLO...)."""
    called = []
    for options in (op.builtinOptions, op.builtinOptions2):
        if options is None:
            continue
        for field in _SUBGRAPH_FIELDS:
            value = getattr(options, field, None)
            if value is not None:
                called.append(int(value))
    return called
