"""The firmware header of ``report --emit-header``: it compiles, registers exactly
the model's operator types, carries the model's bytes and the target's arena.

TFLite Micro's headers are not on this machine, so the header is compiled
against a minimal stand-in for ``tensorflow/lite/micro/micro_mutable_op_resolver.h``
written by the test: a ``tflite::MicroMutableOpResolver<N>`` with the
``Add...()`` methods of :mod:`tflite_serenity.tflm.ops` (their spelling is
checked against TFLite Micro's own header in test_ops.py when ``TFLM_SRC``
names a checkout) that records what is registered and, like the real one,
refuses more than ``N`` types or one type twice.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

from pathlib import Path

import pytest

from tflite_serenity.tflm.ops import BUILTIN_METHODS, CUSTOM_METHODS
from tests.models import DATA, load

ROOT = Path(__file__).resolve().parents[2]
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="no g++")
ARM_GXX = shutil.which("arm-none-eabi-g++")

STAND_IN = """\
// A stand-in for TFLite Micro's MicroMutableOpResolver, written by tests/micro/test_firmware.py.
#ifndef STAND_IN_MICRO_MUTABLE_OP_RESOLVER_H_
#define STAND_IN_MICRO_MUTABLE_OP_RESOLVER_H_
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
struct TFLMRegistration { int builtin_code; const char* custom_name; };
namespace tflite {
template <unsigned int tOpCount>
class MicroMutableOpResolver {
 public:
  TfLiteStatus AddCustom(const char* name, const TFLMRegistration* registration) {
    return registration == nullptr ? kTfLiteError : Add(name);
  }
METHODS
  unsigned int size() const { return n_; }
  const char* name(unsigned int i) const { return names_[i]; }
 private:
  TfLiteStatus Add(const char* name) {
    if (n_ >= tOpCount) return kTfLiteError;
    for (unsigned int i = 0; i < n_; ++i) {
      const char* a = names_[i]; const char* b = name;
      while (*a && *a == *b) { ++a; ++b; }
      if (*a == *b) return kTfLiteError;
    }
    names_[n_++] = name;
    return kTfLiteOk;
  }
  const char* names_[tOpCount];
  unsigned int n_ = 0;
};
}  // namespace tflite
#endif
"""

PROGRAM = """\
#include "model_arena.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

alignas(16) static uint8_t tensor_arena[kTensorArenaSize];
static const TFLMRegistration kernel = {0, nullptr};

int main(int argc, char** argv) {
  ModelOpResolver resolver;
  if (RegisterModelOperators(resolver KERNELS) != kTfLiteOk) return 3;
  if (resolver.size() != kModelOperatorTypes) return 4;
  for (unsigned int i = 0; i < resolver.size(); ++i) printf("%s\\n", resolver.name(i));
  MODEL
  return tensor_arena[0];
}
"""

MODEL_DUMP = """\
  if (reinterpret_cast<uintptr_t>(g_model) % 16 != 0) return 5;
  FILE* f = fopen(argv[1], "wb");
  fwrite(g_model, 1, g_model_len, f);
  fclose(f);
"""


def stand_in(directory):
    methods = "\n".join(f'  TfLiteStatus {m}() {{ return Add("{m}"); }}' for m in sorted(BUILTIN_METHODS.values()))
    methods += "\n" + "\n".join(f'  TfLiteStatus {m}() {{ return Add("{code}"); }}'
                                for code, m in sorted(CUSTOM_METHODS.items()))
    path = directory / "include" / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"
    path.parent.mkdir(parents=True)
    path.write_text(STAND_IN.replace("METHODS", methods))
    return directory / "include"


def report(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "tflite_serenity", "report", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


def schema_operator_types(model: bytes) -> set[str]:
    """The operator types of every subgraph, read with the flatbuffer schema (not with our reader)."""
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import BuiltinOperator, Model

    names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    m = Model.GetRootAsModel(model, 0)
    kinds = set()
    for s in range(m.SubgraphsLength()):
        sub = m.Subgraphs(s)
        for i in range(sub.OperatorsLength()):
            code = m.OperatorCodes(sub.Operators(i).OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            kinds.add(code.CustomCode().decode() if names[builtin] == "CUSTOM" else names[builtin])
    return kinds


def method_of(kind: str) -> str:
    return BUILTIN_METHODS.get(kind, kind)


def build_and_run(tmp_path, include, kernels="", with_model=False):
    sources = ["main.cc"] + (["model_data.cc"] if with_model else [])
    program = PROGRAM.replace("KERNELS", kernels).replace("MODEL", MODEL_DUMP if with_model else "")
    (tmp_path / "main.cc").write_text(program)
    build = subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", f"-I{include}", *sources, "-o", "fw"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(tmp_path / "fw"), str(tmp_path / "dump.bin")], capture_output=True, text=True)
    assert run.returncode == 0, run.returncode
    return run.stdout.split()


@needs_gxx
@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
@pytest.mark.parametrize("name", ["small_cnn_int8.tflite", "if_int8.tflite", "signal_grow_int16.tflite"])
def test_registered_operators_are_the_models_operator_types(tmp_path, name):
    include = stand_in(tmp_path)
    proc = report(DATA / name, "--no-tflm", "--emit-header", tmp_path / "model_arena.h")
    assert proc.returncode == 0, proc.stderr
    expected = {BUILTIN_METHODS.get(kind, kind) for kind in schema_operator_types(load(name))}
    registered = build_and_run(tmp_path, include)
    assert len(registered) == len(set(registered)) and set(registered) == expected


@needs_gxx
@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
def test_a_custom_operator_is_registered_with_the_kernel_the_firmware_passes(tmp_path):
    include = stand_in(tmp_path)
    proc = report(DATA / "custom_op_float.tflite", "--no-tflm", "--emit-header", tmp_path / "model_arena.h")
    assert proc.returncode == 0, proc.stderr
    header = (tmp_path / "model_arena.h").read_text()
    assert "RegisterModelOperators(ModelOpResolver& resolver, const TFLMRegistration* besseli1e_kernel)" in header
    assert set(build_and_run(tmp_path, include, kernels=", &kernel")) == {"AddFullyConnected", "BesselI1e"}


@needs_gxx
def test_model_array_holds_the_files_bytes_aligned_and_links_once_from_two_files(tmp_path):
    include = stand_in(tmp_path)
    model = DATA / "small_cnn_int8.tflite"
    proc = report(model, "--no-tflm", "--emit-header", tmp_path / "model_arena.h",
                  "--emit-model-array", tmp_path / "model_data.cc")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "other.cc").write_text('#include "model_arena.h"\n#include "model_arena.h"\n'
                                       "unsigned int other() { return g_model_len + kModelOperatorTypes; }\n")
    build_and_run(tmp_path, include, with_model=True)
    assert (tmp_path / "dump.bin").read_bytes() == model.read_bytes()
    link = subprocess.run(["g++", "-std=c++17", f"-I{include}", "-c", "other.cc", "-o", "other.o"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert link.returncode == 0, link.stderr
    (tmp_path / "main.cc").write_text((tmp_path / "main.cc").read_text().replace(
        "int main(", "unsigned int other();\nint main(").replace("return tensor_arena[0];",
                                                                   "return other() == 0;"))
    link = subprocess.run(["g++", "-std=c++17", f"-I{include}", "main.cc", "model_data.cc", "other.o", "-o", "fw2"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert link.returncode == 0, link.stderr


@needs_gxx
def test_header_still_compiles_as_c_for_the_arena_size(tmp_path):
    proc = report(DATA / "small_cnn_int8.tflite", "--no-tflm", "--emit-header", tmp_path / "model_arena.h",
                  "--emit-model-array", tmp_path / "model_data.cc")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "use.c").write_text('#include "model_arena.h"\n#include <stdint.h>\n'
                                    "static uint8_t tensor_arena[kTensorArenaSize];\n"
                                    "uint8_t* arena(void) { return tensor_arena; }\n")
    build = subprocess.run(["gcc", "-Wall", "-Werror", "-c", "use.c"], cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr


@pytest.mark.skipif(ARM_GXX is None, reason="no arm-none-eabi-g++ (apt-get install gcc-arm-none-eabi)")
@pytest.mark.parametrize("name", ["small_cnn_int8.tflite", "custom_op_float.tflite"])
def test_header_and_model_array_compile_for_cortex_m(tmp_path, name):
    include = stand_in(tmp_path)
    proc = report(DATA / name, "--no-tflm", "--emit-header", tmp_path / "model_arena.h",
                  "--emit-model-array", tmp_path / "model_data.cc")
    assert proc.returncode == 0, proc.stderr
    for cpu in ("cortex-m4", "cortex-m55"):
        for source in ("model_arena.h", "model_data.cc"):
            language = ["-x", "c++"] if source.endswith(".h") else []
            build = subprocess.run([ARM_GXX, "-std=c++17", f"-mcpu={cpu}", "-mthumb", "-Wall", "-Werror",
                                    f"-I{include}", "-fsyntax-only", *language, source],
                                   cwd=tmp_path, capture_output=True, text=True)
            assert build.returncode == 0, (cpu, source, build.stderr)


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
def test_cortex_m_is_the_default_and_its_header_says_so(tmp_path):
    proc = report(DATA / "small_cnn_int8.tflite", "--emit-header", tmp_path / "a.h", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    payload = json.loads(proc.stdout)
    target, host = payload["target_arena_size"], payload["tflm_arena_size"]
    # the head with CMSIS-NN's MVE depthwise scratch (4,464 B) where the host's has none
    assert target["target"] == "cortex-m" and target["head"] > host["head"] and target["measured"] is False
    text = (tmp_path / "a.h").read_text()
    assert f"constexpr size_t kTensorArenaSize = {target['arena_size']};" in text
    assert "target            cortex-m: a 32-bit Cortex-M with CMSIS-NN's kernels" in text
    assert f"margin            {target['margin']:,} bytes: 16 for an arena not declared" in text
    assert f"host figure       {host['arena_size']:,} bytes" in text
    assert target["head"] <= target["arena_size"] < host["arena_size"]


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
def test_host_target_header_carries_the_measured_host_size(tmp_path):
    proc = report(DATA / "small_cnn_int8.tflite", "--emit-header", tmp_path / "a.h", "--target", "host", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    size = json.loads(proc.stdout)["tflm_arena_size"]
    text = (tmp_path / "a.h").read_text()
    assert f"constexpr size_t kTensorArenaSize = {size['arena_size']};" in text and "target            host" in text


def test_tflm_text_gives_the_cortex_m_figure_after_the_host_one():
    proc = report(DATA / "small_cnn_int8.tflite", "--no-tflm", "--tflm")
    assert proc.returncode == 0, proc.stderr
    host = re.search(r"arena_size for MicroInterpreter: ([\d,]+) B", proc.stdout)
    target = re.search(r"arena_size for cortex-m \(32-bit\): ([\d,]+) B \(.*\) \(estimated\)", proc.stdout)
    assert host and target and host.start() < target.start()


@pytest.mark.parametrize("args, message", [
    (["--emit-model-array", "m.cc"], "--emit-model-array needs --emit-header"),
    (["--allow-missing-ops"], "--allow-missing-ops applies to --emit-header only"),
    (["--target", "host"], "--target applies to --tflm and --emit-header only"),
    (["--emit-header", "m.h", "--emit-model-array", "m.h"], "name the same file"),
    (["--tflm", "--target", "esp32"], "invalid choice: 'esp32'"),
])
def test_bad_combinations_give_one_line_and_exit_2(tmp_path, args, message):
    proc = report(DATA / "small_cnn_int8.tflite", "--no-tflm", *args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("tflite_serenity: error: ") and message in line
    assert not list(tmp_path.iterdir())


def test_an_operator_without_a_method_gives_one_line_unless_allowed(tmp_path):
    model = DATA / "realworld_sparse_fc.tflite"
    proc = report(model, "--emit-header", tmp_path / "a.h")  # before measuring: no --no-tflm round trip
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "no MicroMutableOpResolver method for DENSIFY" in line and not (tmp_path / "a.h").exists()
    proc = report(model, "--no-tflm", "--emit-header", tmp_path / "a.h", "--allow-missing-ops")
    assert proc.returncode == 0, proc.stderr
    assert "// NOT REGISTERED: DENSIFY" in (tmp_path / "a.h").read_text()
