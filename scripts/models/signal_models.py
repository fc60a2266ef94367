"""Small int16 audio front ends built from TFLite Micro's signal operators.

TFLite Micro's micro_speech preprocessor runs custom operators of its signal
library (``SignalWindow``, ``SignalRfft``, ``SignalEnergy``...), which its
Python interpreter registers. The TensorFlow side of that library (the ops
the converter would need) is not in the ``tflite-micro`` wheel, so these
models are written straight from the flatbuffer schema: custom operators
with the flexbuffer options the kernels read, int16 tensors, and builtin
CONCATENATION between them. They run in TFLite Micro only.

``SignalRfft`` asks for a scratch buffer of ``fft_length`` values while
preparing, which the arena plan does not model: these models show what the
plan does about a kernel it does not know.
"""

from __future__ import annotations

import numpy as np
from flatbuffers import flexbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from tflite_serenity.model import write_model

_INT16 = fb.TensorType.INT16


class _Builder:
    """One subgraph of int16 signal operators, written as a model."""

    def __init__(self, description: str):
        self.model = fb.ModelT()
        self.model.version = 3
        self.model.description = description
        self.model.operatorCodes = []
        self.model.buffers = [fb.BufferT()]
        self.graph = fb.SubGraphT()
        self.graph.name = "main"
        self.graph.tensors, self.graph.operators = [], []
        self._codes: dict[str, int] = {}

    def tensor(self, length: int, name: str, dtype: int = _INT16, data: np.ndarray | None = None) -> int:
        t = fb.TensorT()
        t.shape = np.array([length], dtype=np.int32)
        t.type = dtype
        t.name = name
        t.buffer = 0
        if data is not None:
            buffer = fb.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.model.buffers.append(buffer)
            t.buffer = len(self.model.buffers) - 1
        self.graph.tensors.append(t)
        return len(self.graph.tensors) - 1

    def length(self, tensor: int) -> int:
        return int(self.graph.tensors[tensor].shape[0])

    def _op(self, code: str, inputs: list[int], outputs: list[int], custom: dict | None = None, options=None) -> None:
        if code not in self._codes:
            opcode = fb.OperatorCodeT()
            if custom is not None:
                opcode.builtinCode = opcode.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
                opcode.customCode = code
            else:
                opcode.builtinCode = opcode.deprecatedBuiltinCode = getattr(fb.BuiltinOperator, code)
            opcode.version = 1
            self.model.operatorCodes.append(opcode)
            self._codes[code] = len(self.model.operatorCodes) - 1
        op = fb.OperatorT()
        op.opcodeIndex = self._codes[code]
        op.inputs, op.outputs = list(inputs), list(outputs)
        if custom is not None:
            op.customOptions = np.frombuffer(bytes(flexbuffers.Dumps(custom)), dtype=np.uint8)
            op.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS
        elif options is not None:
            op.builtinOptionsType, op.builtinOptions = options
        self.graph.operators.append(op)

    def window(self, x: int, name: str) -> int:
        """A fixed window over the whole frame (int16 weights, shift 12)."""
        n = self.length(x)
        weights = self.tensor(n, f"{name}/weights", data=((np.arange(n) % 100 + 1) * 100).astype(np.int16))
        y = self.tensor(n, name)
        self._op("SignalWindow", [x, weights], [y], custom={"shift": 12})
        return y

    def rfft(self, x: int, fft_length: int, name: str) -> int:
        """Real FFT, zero-padded to ``fft_length``: ``fft_length // 2 + 1``
        complex int16 values. Asks for a scratch buffer of ``fft_length``
        int16 values."""
        y = self.tensor(fft_length + 2, name)
        self._op("SignalRfft", [x], [y], custom={"T": _INT16, "fft_length": fft_length})
        return y

    def energy(self, x: int, name: str) -> int:
        """Squared magnitude of each complex value, as uint32 (``end_index``
        is exclusive: every output element is written)."""
        n = self.length(x) // 2
        y = self.tensor(n, name, dtype=fb.TensorType.UINT32)
        self._op("SignalEnergy", [x], [y], custom={"end_index": n, "start_index": 0})
        return y

    def concat(self, a: int, b: int, name: str) -> int:
        y = self.tensor(self.length(a) + self.length(b), name)
        options = fb.ConcatenationOptionsT()
        options.axis = 0
        self._op("CONCATENATION", [a, b], [y], options=(fb.BuiltinOptions.ConcatenationOptions, options))
        return y

    def finish(self, inputs: list[int], outputs: list[int]) -> bytes:
        self.graph.inputs, self.graph.outputs = list(inputs), list(outputs)
        self.model.subgraphs = [self.graph]
        return write_model(self.model)


def signal_grow() -> bytes:
    """A 200-sample frame: windowed (its energy, and window and frame side by
    side), and transformed (RFFT of 256, windowed again). Packing its tensors
    tight leaves no gap for the RFFT's 512-byte scratch buffer, so a plan
    written on our figures makes TFLite Micro's head larger than its own."""
    b = _Builder("signal front end: a written plan would grow the arena")
    frame = b.tensor(200, "frame")
    windowed = b.window(frame, "window")
    energy = b.energy(windowed, "energy")
    both = b.concat(windowed, frame, "window_and_frame")
    spectrum = b.rfft(frame, 256, "rfft")
    shaped = b.window(spectrum, "spectrum_window")
    return b.finish([frame], [energy, both, shaped])


def signal_shrink() -> bytes:
    """A 256-sample frame and its spectrum (RFFT of 256), concatenated twice
    over, with the energy of the spectrum (twice) and of the concatenation:
    here our plan makes TFLite Micro's measured head smaller."""
    b = _Builder("signal front end: a written plan shrinks the arena")
    frame = b.tensor(256, "frame")
    spectrum = b.rfft(frame, 256, "rfft")
    frame_and_spectrum = b.concat(frame, spectrum, "frame_and_spectrum")
    stacked = b.concat(spectrum, frame_and_spectrum, "stacked")
    energy_a = b.energy(spectrum, "energy_a")
    energy_b = b.energy(spectrum, "energy_b")
    energy_stacked = b.energy(stacked, "energy_stacked")
    return b.finish([frame], [energy_a, energy_b, energy_stacked])
