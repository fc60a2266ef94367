"""The committed test models (tests/data, made by scripts/models/make_test_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


def model_names() -> list[str]:
    """Every committed .tflite file, sorted."""
    return sorted(p.name for p in DATA.glob("*.tflite"))


def load(name: str) -> bytes:
    """The bytes of tests/data/NAME (skips the test if the file is missing)."""
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"tests/data/{name} is missing; run python -m scripts.models.make_test_models")
    return path.read_bytes()


def manifest() -> dict:
    path = DATA / "MANIFEST.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def runs_in(name: str, runtime: str) -> bool:
    """Whether the manifest says the model runs in ``runtime`` ("litert" or "tflm")."""
    return runtime in manifest().get(name, {}).get("runs_in", [])
