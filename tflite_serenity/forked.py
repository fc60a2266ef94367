"""Run one function over shares of a list in forked processes, results in order.

The strip search scores dozens of candidate rewrites, each a pure function
of the model and the candidate: the answers do not depend on which process
computes them or in which order, so spreading them over the machine's cores
changes how long the search takes, never what it finds.

Children are forked (they see the parent's data without copying it) and
send back only what :func:`in_processes`' ``pack`` keeps of each result,
pickled through a pipe. Where ``fork`` is not available (Windows), where
only one process is asked for, where the caller runs other Python threads
(a forked child gets only the calling thread, and a lock another one held
would stay held in it), or where a child fails, the parent does the work
itself.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Callable, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Processes used when the caller asks for "one per core": beyond this the
#: shares are too small to pay for the forks.
MAX_JOBS = 4


def available_jobs(jobs: int = 0) -> int:
    """``jobs`` processes, or with 0 one per core this process may use (at most :data:`MAX_JOBS`)."""
    if jobs > 0:
        return jobs
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_JOBS))


def in_processes(work: Callable[[Sequence[Item]], list[Result]], items: Sequence[Item], jobs: int,
                 pack: Callable[[Result], object] = lambda r: r) -> list:
    """``work`` over ``items`` dealt round-robin to ``jobs`` processes.

    ``work`` takes a share of the items and returns one result per item, in
    the share's order. The parent computes the first share (its results are
    returned whole); each child computes another and sends back ``pack`` of
    each result (something small and picklable). Returns the results in the
    order of ``items``. Each process gets at least two items: a fork costs
    about as much as one candidate's scoring.
    """
    jobs = min(jobs, len(items) // 2)
    if jobs <= 1 or not hasattr(os, "fork") or threading.active_count() > 1:
        return list(work(items))
    shares = [list(range(j, len(items), jobs)) for j in range(jobs)]
    children = []
    for share in shares[1:]:
        children.append((share, *_fork(work, [items[i] for i in share], pack)))
    results: list = [None] * len(items)
    try:
        for i, result in zip(shares[0], work([items[i] for i in shares[0]])):
            results[i] = result
    finally:  # every child is waited for, also when the parent's own share raised
        sent = [(share, _collect(pid, reader)) for share, pid, reader in children]
    for share, packed in sent:
        if packed is None or len(packed) != len(share):  # the child failed: do its share here
            packed = work([items[i] for i in share])
        for i, result in zip(share, packed):
            results[i] = result
    return results


def _fork(work, share, pack) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running the parent's exit handlers
        code = 1
        try:
            os.close(reader)
            data = pickle.dumps([pack(r) for r in work(share)], protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    return pid, reader


def _collect(pid: int, reader: int) -> list | None:
    """What the child ``pid`` sent through ``reader``, or None if it failed."""
    with os.fdopen(reader, "rb") as source:
        data = source.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # a truncated message: the child died while writing
        return None
