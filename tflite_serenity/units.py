"""Figures written for people, the same way in every command and report.

A leaf module (it imports nothing of the package), so the report, the arena
summary and the TFLite Micro size text can all use it without importing each
other.
"""

from __future__ import annotations


def format_bytes(n: int) -> str:
    """``1,234,567 B (1.18 MiB)``: exact bytes first, a readable unit after.

    >>> format_bytes(163840)
    '163,840 B (160.0 KiB)'
    """
    if n < 1024:
        return f"{n:,} B"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n:,} B ({n / scale:.1f} {unit})"
    return f"{n:,} B"
