"""Turn a schema object tree into nested dicts and lists, for comparison and debugging."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_plain(obj: Any) -> Any:
    """Recursively convert ``ModelT`` (or any part of it) into dicts, lists and scalars.

    Numpy arrays become ``(dtype, shape, bytes)`` so that two trees compare equal
    exactly when every field and every byte of data is equal.
    """
    if isinstance(obj, np.ndarray):
        return (str(obj.dtype), obj.shape, obj.tobytes())
    if isinstance(obj, (list, tuple)):
        return [to_plain(x) for x in obj]
    if isinstance(obj, (bytes, str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    return {"__type__": type(obj).__name__, **{k: to_plain(v) for k, v in sorted(vars(obj).items())}}
