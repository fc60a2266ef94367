"""Scripts that make models, measure and train; none is needed to use or test the package.

Run each as a module from the repository root, e.g.
``python -m scripts.benchmarks.bench --help``; ``scripts/README.md`` lists them all.
"""

import sys
from pathlib import Path

#: The repository root, where the scripts' default paths (tests/data, .zoo, docs) start.
ROOT = Path(__file__).resolve().parent.parent


def write_generated(path: Path, text: str, check: bool, command: str) -> int:
    """Write the generated file ``path``, or with ``check`` only compare it with ``text``:
    the exit code, 1 when it is stale (with the ``command`` that remakes it on stderr)."""
    name = path.relative_to(ROOT)
    if check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print(f"{name} is stale: run {command}", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {name}")
    return 0
