"""Which MicroMutableOpResolver method registers each operator type of a model."""

import os
import re
from pathlib import Path

import pytest

from tflite_serenity.errors import UnsupportedModelError
from tflite_serenity.tflm.ops import BUILTIN_METHODS, CUSTOM_METHODS, model_operator_kinds, registrations
from tests.models import load


def test_operator_kinds_are_those_of_every_subgraph_sorted():
    # if_int8: the IF and its branches' operators, each type once
    assert model_operator_kinds(load("if_int8.tflite")) == (
        "ADD", "BATCH_MATMUL", "DEQUANTIZE", "GREATER", "IF", "MEAN", "QUANTIZE", "TANH")


def test_builtins_map_to_tflite_micro_method_names():
    regs = registrations(["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "STRIDED_SLICE", "AVERAGE_POOL_2D"])
    assert [r.call() for r in regs] == ["resolver.AddConv2D()", "resolver.AddDepthwiseConv2D()",
                                        "resolver.AddFullyConnected()", "resolver.AddStridedSlice()",
                                        "resolver.AddAveragePool2D()"]


def test_custom_kernels_tflite_micro_ships_have_their_own_method():
    regs = registrations(model_operator_kinds(load("signal_grow_int16.tflite")))
    assert {r.kind: r.method for r in regs if r.custom_code} == {
        "CUSTOM:SignalEnergy": "AddEnergy", "CUSTOM:SignalRfft": "AddRfft", "CUSTOM:SignalWindow": "AddWindow"}


def test_other_custom_operators_take_the_firmware_kernel_as_a_parameter():
    (reg,) = [r for r in registrations(model_operator_kinds(load("custom_op_float.tflite"))) if r.custom_code]
    assert reg.call() == 'resolver.AddCustom("BesselI1e", besseli1e_kernel)'


def test_custom_codes_become_distinct_identifiers_and_safe_string_literals():
    a, b, c = registrations(["CUSTOM:my-op", "CUSTOM:my op", 'CUSTOM:9"x?'])
    assert (a.parameter, b.parameter, c.parameter) == ("my_op_kernel", "my_op_kernel2", "op_9_x_kernel")
    assert c.call() == r'resolver.AddCustom("9\042x\077", op_9_x_kernel)'


def test_an_operator_tflite_micro_cannot_register_is_refused_in_one_line():
    with pytest.raises(UnsupportedModelError, match="no MicroMutableOpResolver method for DENSIFY") as err:
        registrations(model_operator_kinds(load("realworld_sparse_fc.tflite")))
    assert "\n" not in str(err.value) and "--allow-missing-ops" in str(err.value)


def test_allow_missing_keeps_the_operator_without_a_method():
    regs = registrations(model_operator_kinds(load("realworld_sparse_fc.tflite")), allow_missing=True)
    assert [r.kind for r in regs if r.method is None] == ["DENSIFY"]


@pytest.mark.skipif(not os.environ.get("TFLM_SRC"), reason="set TFLM_SRC to a TFLite Micro checkout")
def test_method_names_match_tflite_micro_sources():
    """Every method of our tables is in TFLite Micro's micro_mutable_op_resolver.h and registers our operator."""
    text = (Path(os.environ["TFLM_SRC"]) / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    bodies = {m.group(1): m.group(2) for m in
              re.finditer(r"\n  TfLiteStatus (Add\w+)\((.*?)\n  }", text, re.S)}
    for kind, method in BUILTIN_METHODS.items():
        assert f"BuiltinOperator_{kind}," in bodies.get(method, ""), (kind, method)
    for code, method in CUSTOM_METHODS.items():
        body = bodies.get(method, "")
        assert f'"{code}"' in body or (code == "ethos-u" and "GetString_ETHOSU" in body), (code, method)
