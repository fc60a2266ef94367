"""The exceptions tflite-serenity raises.

Every error a user can cause (a bad file, an option that cannot be met) is a
:class:`SerenityError`; the command line turns one into a single line on stderr
and exit code 2. Anything else escaping is a bug in tflite-serenity.
"""

from __future__ import annotations


class SerenityError(Exception):
    """Base class of every error tflite-serenity raises on purpose."""


class ModelFormatError(SerenityError):
    """The bytes are not a well-formed TFLite flatbuffer (truncated, wrong
    identifier, indices out of range, impossible shapes, cyclic graph...)."""


class UnsupportedModelError(SerenityError):
    """A well-formed model that uses something tflite-serenity cannot handle."""


class InfeasibleError(SerenityError):
    """A request that cannot be met, e.g. an invalid operator order or a
    pipeline with more segments than operators."""


class PlanError(SerenityError):
    """An arena plan that would place two live tensors on the same bytes."""


class RuntimeUnavailableError(SerenityError):
    """An interpreter needed for verification or measurement is not installed."""


class VerificationError(SerenityError):
    """An optimized model does not reproduce the original's outputs."""
