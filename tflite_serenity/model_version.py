"""One version of a model: its schema tree, and the graphs built from it, once.

Every edit of a model copies what it changes (:mod:`tflite_serenity.model`:
``with_operator_orders``, ``with_metadata``, the schema editor's ``finish``)
and leaves the tree it was given as it was. So a tree's graphs never go
stale: a :class:`ModelVersion` builds each subgraph's :class:`~.graph.Graph`
on first use and keeps it for as long as the tree lives, and every stage
asks the version for graphs instead of building them. An edit gives a new
tree, hence a new version; :meth:`ModelVersion.edited` makes it and hands
over the graphs of the subgraphs the edit left alone.

Tensor identity across an edit is never object identity: an edit that
renumbers tensors says so with an explicit index map (the schema editor's
``finish`` returns one), and the strip search names tensors by their names.
"""

from __future__ import annotations

import weakref
from typing import Iterable

from .graph import Graph, TensorsRead, build_graph


class _Built:
    """What is known about one tree (kept beside it, never inside it: an edit's
    ``copy.copy`` of the tree must not carry it along)."""

    __slots__ = ("graphs", "read", "builds")

    def __init__(self, read: TensorsRead) -> None:
        self.graphs: dict[int, Graph] = {}
        self.read = read
        self.builds = 0


#: tree -> what was built from it, for as long as the tree lives.
_BUILT: "weakref.WeakKeyDictionary[object, _Built]" = weakref.WeakKeyDictionary()


class ModelVersion:
    """A schema tree (``ModelT``) with its graphs, built lazily and cached.

    Two versions of the same tree share what was built, so each subgraph's
    graph is built at most once per tree. Versions made by :meth:`edited`
    share the schema tensors they have in common too (:class:`~.graph.TensorsRead`).

    Examples
    --------
    >>> from tflite_serenity.model import read_model  # doctest: +SKIP
    >>> version = ModelVersion(read_model(data))  # doctest: +SKIP
    >>> version.graph(0) is version.graph(0)  # doctest: +SKIP
    True
    """

    __slots__ = ("tree", "_built")

    def __init__(self, tree, *, read: TensorsRead | None = None) -> None:
        self.tree = tree
        built = _BUILT.get(tree)
        if built is None:
            built = _BUILT[tree] = _Built(TensorsRead() if read is None else read)
        self._built = built

    @property
    def subgraphs(self) -> int:
        return len(self.tree.subgraphs)

    def graph(self, subgraph: int) -> Graph:
        """The graph of ``subgraph``, built on first use (raises what
        :func:`~.graph.build_graph` raises for a malformed subgraph)."""
        built = self._built
        found = built.graphs.get(subgraph)
        if found is None:
            found = built.graphs[subgraph] = build_graph(self.tree, subgraph, read=built.read)
            built.builds += 1
        return found

    @property
    def graphs(self) -> list[Graph]:
        """One graph per subgraph."""
        return [self.graph(s) for s in range(self.subgraphs)]

    @property
    def builds(self) -> int:
        """Graphs built from this tree so far (at most one per subgraph)."""
        return self._built.builds

    def edited(self, tree, *, unchanged: Iterable[int] = ()) -> "ModelVersion":
        """The version of ``tree``, an edit of this one that left the
        subgraphs ``unchanged`` (their operators, tensors and inputs and
        outputs) as they were: their graphs carry over without a build."""
        if tree is self.tree:
            return self
        new = ModelVersion(tree, read=self._built.read)
        for s in unchanged:
            found = self._built.graphs.get(s)
            if found is not None:
                new._built.graphs.setdefault(s, found)
        return new


def version_of(tree) -> ModelVersion:
    """The version of ``tree`` (what was built from it before comes with it)."""
    return ModelVersion(tree)


def graphs_of(tree) -> list[Graph]:
    """The graphs of every subgraph of ``tree``, each built at most once per tree."""
    return ModelVersion(tree).graphs
