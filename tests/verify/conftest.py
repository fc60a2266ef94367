"""Fixtures of the verify tests (helpers live in verify_models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.verify.verify_models import COMPARED_MODELS, data_model


@pytest.fixture(params=COMPARED_MODELS)
def committed_model(request) -> bytes:
    return data_model(request.param)


@pytest.fixture(scope="session")
def sine_model() -> bytes:
    """A two-layer float model that ships inside the tflite-micro package."""
    tflite_micro = pytest.importorskip("tflite_micro")
    path = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "sine_float.tflite"
    if not path.is_file():
        pytest.skip("tflite-micro ships no sine_float.tflite")
    return path.read_bytes()


