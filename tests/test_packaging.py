"""What the package ships: one version, the license pyproject names, an sdist without the tests.

Building takes a minute and the newest setuptools, so these read the files the
build reads; ``python -m build`` was run on them (see the commit message).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tflite_serenity

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_written_once_and_pyproject_reads_it_from_the_package():
    project = _pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, name = attr.rsplit(".", 1)
    assert module == "tflite_serenity._version" and getattr(tflite_serenity._version, name) == tflite_serenity.__version__
    assert tflite_serenity.__version__ == "0.1.0"


def test_the_license_file_is_the_apache_2_license_pyproject_names():
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("Copyright 2026 the tflite-serenity authors\n")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def _manifest_rules() -> list[list[str]]:
    return [line.split() for line in (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def test_the_sdist_leaves_out_the_tests_and_ships_the_cython_sources():
    rules = _manifest_rules()
    assert ["prune", "tests"] in rules and ["prune", ".zoo"] in rules
    assert any(r[0] == "recursive-include" and r[1] == "tflite_serenity" and "*.pyx" in r for r in rules)
    assert any(r[0] == "include" and "LICENSE" in r and "README.md" in r for r in rules)


def test_the_scripts_are_in_neither_the_sdist_nor_the_wheel():
    # scripts/ is a package so that its modules run as python -m scripts....; it needs the
    # repository (tests/data, .zoo, docs), and a top-level "scripts" must never be installed
    assert ["prune", "scripts"] in _manifest_rules()
    assert _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"] == ["tflite_serenity*"]
