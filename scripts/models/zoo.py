"""The benchmark zoo: where it is and which models it holds.

``python -m scripts.models.make_zoo`` builds it (git-ignored) into ``.zoo/``:
``{name}_{variant}.tflite`` for every network in float32 and full int8, and
the index ``zoo.json`` that lists each file with what ``modelcheck`` found
(operators, the runtimes it runs in). Every script that reads the zoo asks
this module, in the index's order; none of it imports TensorFlow.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from scripts import ROOT

#: Where ``make_zoo`` writes and every reader looks unless told ``--zoo``.
DEFAULT = ROOT / ".zoo"
#: The index's file name inside a zoo folder.
INDEX = "zoo.json"
VARIANTS = ("float", "int8")
#: The four networks ``make_zoo --quick`` builds, and ``--quick`` readers take.
QUICK = ("mobilenetv2", "darts", "randwire_ws", "swiftnet")
BUILD = "python -m scripts.models.make_zoo"


@dataclass(frozen=True)
class Model:
    """One file of the zoo: the network's name, its variant and what the index says of it."""

    name: str
    variant: str
    path: Path
    runs_in: tuple[str, ...]

    @property
    def stem(self) -> str:
        """The file name without ``.tflite``: ``{name}_{variant}``."""
        return self.path.stem


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--zoo DIR`` option every zoo reader takes, with the same default."""
    parser.add_argument("--zoo", type=Path, default=DEFAULT, help="the zoo folder (default: .zoo/)")


def names(text: str | None) -> set[str] | None:
    """The names of a comma-separated ``--only`` value; None (every model) when empty."""
    chosen = {n for n in (text or "").split(",") if n}
    return chosen or None


def entries(zoo: Path = DEFAULT) -> list[dict]:
    """The raw entries of the index; exits with how to build the zoo when it is missing."""
    index = zoo / INDEX
    if not index.is_file():
        raise SystemExit(f"no zoo at {zoo} (no {INDEX}): build it with {BUILD} (--quick for four models)")
    return json.loads(index.read_text())["models"]


def models(zoo: Path = DEFAULT, *, only: set[str] | None = None, variants: set[str] | None = None,
           runs_in: str | None = None) -> list[Model]:
    """The zoo's models in the index's order: those named in ``only`` (all for None),
    of ``variants`` (all for None), that run in the runtime ``runs_in`` (any for None).

    A name the index does not know exits with the names it does know; a file the
    index lists but that is gone is left out."""
    listed = entries(zoo)
    unknown = sorted((only or set()) - {e["name"] for e in listed})
    if unknown:
        known = ", ".join(dict.fromkeys(e["name"] for e in listed))
        raise SystemExit(f"not in the zoo at {zoo}: {', '.join(unknown)}; it holds {known}")
    found = []
    for e in listed:
        if (only is not None and e["name"] not in only) or (variants is not None and e["variant"] not in variants):
            continue
        if runs_in is not None and runs_in not in e.get("runs_in", ()):
            continue
        path = zoo / e["file"]
        if path.is_file():
            found.append(Model(e["name"], e["variant"], path, tuple(e.get("runs_in", ()))))
    return found
