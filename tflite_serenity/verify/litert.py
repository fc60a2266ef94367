"""Run a model in the LiteRT (TensorFlow Lite) interpreter, exactly.

The interpreter is built with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``: the default
XNNPACK delegate reorganises the computation and would make two equivalent
models differ in their last bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tflite_serenity.errors import RuntimeUnavailableError, VerificationError


def run_litert(model: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run subgraph 0 of a model once in LiteRT's reference CPU kernels.

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    inputs : sequence of numpy.ndarray
        One array per model input, in the model's input order. An input whose
        shape differs from the model's current one is resized first (for
        dynamic dimensions).

    Returns
    -------
    list of numpy.ndarray
        The outputs, in the model's output order (copies, owned by the caller).

    Raises
    ------
    RuntimeUnavailableError
        If ``ai_edge_litert`` is not installed.
    VerificationError
        If LiteRT rejects the model or the inputs, or fails while running;
        the message carries the interpreter's own.
    ValueError
        If the number of inputs does not match the model.
    """
    return run_litert_trials(model, [inputs])[0]


def run_litert_trials(
    model: bytes, input_sets: Sequence[Sequence[np.ndarray]]
) -> list[list[np.ndarray]]:
    """Run a model on several input sets with a single interpreter.

    Variable tensors are reset before each set, so each run is independent,
    as if done by :func:`run_litert`.

    Parameters
    ----------
    model : bytes
        A .tflite flatbuffer.
    input_sets : sequence of sequence of numpy.ndarray
        One list of input arrays per run.

    Returns
    -------
    list of list of numpy.ndarray
        The outputs of each run.

    Raises
    ------
    RuntimeUnavailableError, VerificationError, ValueError
        As :func:`run_litert`.
    """
    interpreter = _load(model)
    return [_invoke(interpreter, inputs) for inputs in input_sets]


def _load(model: bytes):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError as err:
        raise RuntimeUnavailableError(
            "LiteRT is not installed: pip install ai-edge-litert"
        ) from err
    try:
        interpreter = Interpreter(
            model_content=bytes(model),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        interpreter.allocate_tensors()
    except Exception as err:  # the wrapper raises ValueError/RuntimeError
        raise VerificationError(f"LiteRT cannot load the model: {_message(err)}") from err
    return interpreter


def _invoke(interpreter, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    details = interpreter.get_input_details()
    if len(inputs) != len(details):
        raise ValueError(f"the model has {len(details)} inputs, {len(inputs)} were given")
    arrays = [np.asarray(x) for x in inputs]
    try:
        resized = False
        for detail, array in zip(details, arrays):
            if tuple(detail["shape"]) != array.shape:
                interpreter.resize_tensor_input(detail["index"], array.shape)
                resized = True
        if resized:
            interpreter.allocate_tensors()
        interpreter.reset_all_variables()
        for detail, array in zip(details, arrays):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        return [
            np.array(interpreter.get_tensor(d["index"]), copy=True)
            for d in interpreter.get_output_details()
        ]
    except Exception as err:
        raise VerificationError(f"LiteRT failed to run the model: {_message(err)}") from err


def _message(err: Exception) -> str:
    # The wrapper's messages span several lines; errors are reported as one.
    return f"{type(err).__name__}: {' '.join(str(err).split())}"
