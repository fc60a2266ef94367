"""One memory picture of a real model, computed once for the plot tests."""

import pytest

from tflite_serenity.plot import memory_picture
from tests.models import DATA


@pytest.fixture(scope="session")
def darts_picture():
    return memory_picture(DATA / "darts_tiny_float.tflite", time_limit=30)
