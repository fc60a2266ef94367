"""The C header for firmware: it compiles, and its size runs the model in TFLite Micro."""

import importlib.util
import re
import shutil
import subprocess

import pytest

from tflite_serenity.tflm import TflmArenaSize, arena_header, tflm_arena_size, write_arena_header
from tests.models import load

needs_tflm = pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None,
                                reason="tflite-micro is not installed")

SIZE = TflmArenaSize(arena_size=15104, needed=15088, lower_bound=10336, head=640, tail=9696, margin=16,
                     measured=True, invoked=True, method="smallest arena_size that works, by bisection",
                     tflm_version="0.dev1")


def stated_size(text: str) -> int:
    (value,) = re.findall(r"constexpr size_t kTensorArenaSize = (\d+);", text)
    return int(value)


@pytest.mark.skipif(shutil.which("g++") is None, reason="no g++")
def test_header_compiles_as_cpp_and_sizes_an_aligned_arena(tmp_path):
    write_arena_header(tmp_path / "model_arena.h", SIZE, model_name="m.tflite")
    (tmp_path / "use.cc").write_text(
        '#include "model_arena.h"\n#include <stdint.h>\n'
        "alignas(16) static uint8_t tensor_arena[kTensorArenaSize];\n"
        'static_assert(kTensorArenaSize == 15104, "the stated size");\n'
        "uint8_t* arena() { return tensor_arena; }\n")
    proc = subprocess.run(["g++", "-std=c++11", "-Wall", "-Werror", "-c", "use.cc", "-o", "use.o"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc")
def test_header_compiles_as_c(tmp_path):
    write_arena_header(tmp_path / "model_arena.h", SIZE, model_name="m.tflite")
    (tmp_path / "use.c").write_text('#include "model_arena.h"\n#include <stdint.h>\n'
                                    "static uint8_t tensor_arena[kTensorArenaSize];\n"
                                    "uint8_t* arena(void) { return tensor_arena; }\n")
    proc = subprocess.run(["gcc", "-Wall", "-Werror", "-c", "use.c", "-o", "use.o"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@needs_tflm
@pytest.mark.parametrize("name", ["transformer_tiny_int8.tflite", "darts_tiny_float.tflite"])
def test_tflite_micro_runs_the_model_with_exactly_the_stated_size(name):
    from tflite_serenity.verify import run_tflm

    model = load(name)
    size = tflm_arena_size(model)
    stated = stated_size(arena_header(size, model_name=name, model=model))
    assert size.needed <= stated
    run = run_tflm(model, arena_size=stated)
    assert run.error is None and run.outputs is not None


def test_comments_carry_the_figures_and_the_tool_version():
    import tflite_serenity

    text = arena_header(SIZE, model_name="person.tflite", model=load("small_cnn_int8.tflite"))
    for fact in ("person.tflite", "head              640 bytes", "tail              9,696 bytes",
                 "lower bound       10,336 bytes", "needed            15,088 bytes, measured",
                 "margin            16 bytes", f"tflite-serenity {tflite_serenity.__version__}",
                 "TFLite Micro 0.dev1", "peak activations", "sha256"):
        assert fact in text, fact
    assert stated_size(text) == 15104


def test_include_guard_follows_the_file_name(tmp_path):
    write_arena_header(tmp_path / "kws-model.arena.h", SIZE, model_name="m.tflite")
    text = (tmp_path / "kws-model.arena.h").read_text()
    assert "#ifndef KWS_MODEL_ARENA_H_\n#define KWS_MODEL_ARENA_H_\n" in text
