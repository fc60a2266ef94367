"""Scripts that make models, measure and train; none is needed to use or test the package.

Run each as a module from the repository root, e.g.
``python -m scripts.benchmarks.bench --help``; ``scripts/README.md`` lists them all.
"""

from pathlib import Path

#: The repository root, where the scripts' default paths (tests/data, .zoo, docs) start.
ROOT = Path(__file__).resolve().parent.parent
