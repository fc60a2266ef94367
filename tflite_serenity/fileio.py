"""Reading model files and writing results whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import SerenityError


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, or a SerenityError a user can act on."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as err:
        raise SerenityError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise SerenityError(f"{path}: is a directory, not a .tflite file") from err
    except OSError as err:
        raise SerenityError(f"{path}: cannot read ({err.strerror})") from err


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Readers never see a partial file, and a failure leaves no file behind.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise SerenityError(f"{path}: cannot write ({err.strerror})") from err
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written model is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise SerenityError(f"{path}: cannot write ({err.strerror})") from err
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
