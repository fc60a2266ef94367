"""The package's version: the one place it is written.

pyproject.toml reads it from here (``[tool.setuptools.dynamic]``), the package
re-exports it as ``tflite_serenity.__version__``, and modules that print it
import it from here, which imports nothing.
"""

__version__ = "0.1.0"
