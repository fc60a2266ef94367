"""Each setting has one name: the Options field is the command-line flag without its dashes."""

from __future__ import annotations

import dataclasses

import pytest

from tflite_serenity import optimize
from tflite_serenity.cli.optimize import parser
from tflite_serenity.errors import SerenityError
from tflite_serenity.options import Options, Target
from tests.models import DATA

#: Flags about the command itself, not the optimization: they have no field.
COMMAND_ONLY = {"help", "version", "in_place", "json", "quiet"}
#: Hidden flags kept so that old scripts still run: ``--overlap``, now the default.
LEGACY = {"overlap_flag"}


def _flags() -> set[str]:
    return {a.dest for a in parser()._actions if a.option_strings} - COMMAND_ONLY - LEGACY


def _field_of(dest: str) -> str:
    return dest.removeprefix("no_")


def test_every_optimize_flag_is_a_field_of_options_or_target_of_the_same_name():
    fields = {f.name for f in dataclasses.fields(Options)} | {f.name for f in dataclasses.fields(Target) if f.init}
    assert {_field_of(d) for d in _flags()} <= fields


def test_every_option_is_a_flag_of_the_same_name():
    assert {f.name for f in dataclasses.fields(Options)} <= {_field_of(d) for d in _flags()}


def test_the_flag_defaults_are_the_option_defaults():
    args = parser().parse_args(["in.tflite", "out.tflite"])
    for f in dataclasses.fields(Options):
        flag = f.name if hasattr(args, f.name) else "no_" + f.name
        value = getattr(args, flag)
        assert (not value if flag.startswith("no_") else value) == f.default, f.name


def test_keywords_and_an_options_object_give_the_same_bytes():
    path = DATA / "irregular_int8.tflite"
    assert optimize(path, strips=False).model == optimize(path, Options(strips=False)).model


def test_an_impossible_setting_names_its_flag():
    with pytest.raises(SerenityError, match="--max-recompute"):
        Options(max_recompute=-1)
    with pytest.raises(SerenityError, match="--time-limit"):
        Options(time_limit=float("nan"))


def test_a_cortex_m_target_names_the_kernels_its_plan_must_not_lose_with():
    assert Target().kernels == ("reference", "cmsis-nn-dsp", "cmsis-nn-mve")
    assert Target.named("cortex-m55").kernels == ("reference", "cmsis-nn-mve")
    assert Target.named("cortex-m4").name == "cortex-m4" and Target.named("host").kernels == ("reference",)


def test_an_unknown_core_is_refused():
    with pytest.raises(SerenityError, match="unknown --core 'esp32'"):
        Target(core="esp32")
    with pytest.raises(SerenityError, match="--core names a Cortex-M: it needs --pointer-width 32"):
        Target(pointer_width=64, core="cortex-m4")


def test_core_on_the_command_line_is_the_targets_core(tmp_path):
    from tflite_serenity.cli.optimize import run

    out = tmp_path / "out.tflite"
    assert run([str(DATA / "small_cnn_int8.tflite"), str(out), "--core", "cortex-m4", "--quiet"]) == 0
    # for the M4 alone the row strips pay (with both cores they are left out)
    from tflite_serenity.model import read_model
    from tflite_serenity.model_version import graphs_of

    assert "STRIDED_SLICE" in {op.kind for g in graphs_of(read_model(out.read_bytes())) for op in g.operators}


def test_a_negative_number_of_jobs_is_refused():
    with pytest.raises(SerenityError, match="--jobs"):
        Options(jobs=-1)
