"""Write a split as ``k`` standalone models that chain.

Segment ``s`` runs the operators of stage ``s`` in their stored relative
order. Its inputs are the tensors on boundary ``s`` and its outputs those on
boundary ``s+1``, so segment ``s``'s outputs are exactly segment ``s+1``'s
inputs, in the same order. Boundary 0 is the model's inputs and boundary
``k`` its outputs, each in the model's order; the boundaries in between are
in ascending tensor index. A tensor used several stages after it is made is
an output and an input of every segment in between (passed through
unchanged). Tensors keep their names, and each constant is copied only into
the segments whose operators read it.

Preserves: running the segments one after another, each on the previous
one's outputs, gives the whole model's outputs bit for bit in the same
interpreter (the operators, their tensors and their relative order are
unchanged; only where the values wait between operators changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import SerenityError, VerificationError
from ..fileio import write_atomic
from ..graph import Graph, build_graph
from ..model.extract import extract_operators
from ..model.io import read_model, write_model
from .problem import PipelineProblem, Split, boundaries


def boundary_tensors(graph: Graph, problem: PipelineProblem, split: Split) -> list[list[int]]:
    """Per boundary ``0..k``, the tensor indices passed across it, in file order."""
    k = split.k
    on = boundaries(problem, split.stages, k)
    result = [list(graph.inputs)]
    for b in range(1, k):
        result.append(sorted(problem.flows[f].tensor for f in on[b]))
    result.append(list(graph.outputs))
    return result


def segment_models(model, graph: Graph, problem: PipelineProblem, split: Split) -> list[bytes]:
    """The ``.tflite`` bytes of each segment of ``split``.

    Parameters
    ----------
    model : ModelT
        The model ``graph`` was built from (subgraph ``graph.subgraph``).
    graph : Graph
    problem : PipelineProblem
        The problem built from ``graph``.
    split : Split
        A split of that problem.

    Returns
    -------
    list of bytes
        One model per stage. Each is read back and its operator order
        checked before it is returned.
    """
    bounds = boundary_tensors(graph, problem, split)
    base = graph.name or "main"
    result = []
    for s in range(split.k):
        ops = [v for v, stage in enumerate(split.stages) if stage == s]
        piece = extract_operators(model, graph.subgraph, ops, bounds[s], bounds[s + 1],
                                  name=f"{base}_segment_{s}")
        data = write_model(piece)
        build_graph(read_model(data), 0)  # raises if the segment is not a valid model
        result.append(data)
    return result


def segment_paths(out_dir: str | Path, stem: str, k: int) -> list[Path]:
    """``out_dir/{stem}_segment_{i}_of_{k}.tflite`` for ``i`` in ``0..k-1``."""
    return [Path(out_dir) / f"{stem}_segment_{i}_of_{k}.tflite" for i in range(k)]


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` if it is a directory, or can be made as one in a directory that exists.

    Like the other commands' outputs, whose directory must exist: a mistyped
    path fails at once, before any work, rather than growing a tree of folders.

    Raises
    ------
    SerenityError
        If ``out_dir`` is a file, or its parent directory does not exist.
    """
    directory = Path(out_dir)
    if directory.exists() and not directory.is_dir():
        raise SerenityError(f"{directory}: cannot create the output directory (a file of that name exists)")
    parent = directory.absolute().parent
    if not parent.is_dir():
        raise SerenityError(f"{directory}: cannot create the output directory ({parent} does not exist)")
    return directory


def write_segments(out_dir: str | Path, stem: str, segments: Sequence[bytes]) -> list[Path]:
    """Write each segment whole (through a temporary file and a rename) into ``out_dir``, made if
    its parent exists (:func:`check_out_dir`); return the paths."""
    directory = check_out_dir(out_dir)
    try:
        directory.mkdir(exist_ok=True)
    except OSError as err:
        raise SerenityError(f"{directory}: cannot create the output directory ({err.strerror})") from err
    paths = segment_paths(directory, stem, len(segments))
    for path, data in zip(paths, segments):
        write_atomic(path, data)
    return paths


def run_chain(segments: Sequence[bytes], inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the segments one after another in LiteRT, each on the previous one's outputs."""
    from ..verify import run_litert

    values = list(inputs)
    for data in segments:
        values = run_litert(data, values)
    return values


def check_chain(whole: bytes, segments: Sequence[bytes], seeds: Sequence[int] = (0, 1)) -> None:
    """Raise VerificationError unless the chained segments reproduce ``whole`` bit for bit in LiteRT.

    Each seed gives one set of random inputs (:func:`tflite_serenity.verify.random_inputs`).
    """
    from ..verify import random_inputs, run_litert

    for seed in seeds:
        inputs = random_inputs(whole, seed=seed)
        expected = run_litert(whole, inputs)
        got = run_chain(segments, inputs)
        for i, (a, b) in enumerate(zip(expected, got)):
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                raise VerificationError(
                    f"output {i} of the chained segments differs from the whole model's (random inputs, seed {seed})"
                )
        if len(expected) != len(got):
            raise VerificationError(f"the chained segments give {len(got)} outputs, the model {len(expected)}")
