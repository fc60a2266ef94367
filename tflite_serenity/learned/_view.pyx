# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled structure features of the policy's view: :func:`.problem._structure` in C.

Counts, and sums of integer values below 2**53 (exact in float64 in any
order), so this and the NumPy path give the same arrays bit for bit. Bit
sets are read byte by byte as little-endian memory (x86-64, ARM64).
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

cnp.import_array()


cdef extern from *:
    int __builtin_popcountll(unsigned long long) nogil  # GCC and Clang: number of set bits


def structure(preds, succs, weights):
    """Per operator: depth and height (edges on the longest path from a source
    and to a sink), its ancestors and descendants (counts, float64), and the
    sums of each column of ``weights`` (``n x m``, integer values) over its
    ancestors (``n x m``).

    ``preds[v]`` must come before ``v`` in ``0..n-1`` (a topological numbering).
    Ancestors and descendants are bit sets, counted by popcount; the sums go a
    byte of a set at a time, through a table of the sums of every subset of the
    eight operators that byte stands for.
    """
    cdef Py_ssize_t n = len(preds), words = (n + 63) // 64, nbytes = (n + 7) // 8
    cdef Py_ssize_t v, u, w, c, b, low, p
    cdef const double[:, ::1] weight = np.ascontiguousarray(weights, dtype=np.float64)
    cdef Py_ssize_t m = weight.shape[1]
    depth_arr = np.zeros(n, dtype=np.int64)
    height_arr = np.zeros(n, dtype=np.int64)
    up_arr = np.zeros((n, max(words, 1)), dtype=np.uint64)  # ancestors
    down_arr = np.zeros((n, max(words, 1)), dtype=np.uint64)  # descendants
    above_arr = np.zeros(n, dtype=np.float64)
    below_arr = np.zeros(n, dtype=np.float64)
    sums_arr = np.zeros((n, m), dtype=np.float64)
    table_arr = np.zeros((max(nbytes, 1), 256, max(m, 1)), dtype=np.float64)
    cdef int64_t[::1] depth = depth_arr, height = height_arr
    cdef uint64_t[:, ::1] up = up_arr, down = down_arr
    cdef double[::1] above = above_arr, below = below_arr
    cdef double[:, ::1] sums = sums_arr
    cdef double[:, :, ::1] table = table_arr
    cdef int count
    cdef const unsigned char* row
    for v in range(n):
        depth[v] = _join(v, preds[v], -1, depth, up)
    for v in range(n - 1, -1, -1):
        height[v] = _join(v, succs[v], 1, height, down)
    with nogil:
        # table[p, b, c]: the sum of weight[8p + i, c] over the bits i of b, each
        # made from the subset without its lowest bit (the same exact sums)
        for p in range(nbytes):
            for b in range(1, 256):
                low = 0
                while not (b >> low) & 1:
                    low += 1
                if 8 * p + low >= n:
                    continue  # bits past the last operator are never set
                for c in range(m):
                    table[p, b, c] = table[p, b & (b - 1), c] + weight[8 * p + low, c]
        for v in range(n):
            count = 0
            for w in range(words):
                count += __builtin_popcountll(up[v, w])
            above[v] = count
            count = 0
            for w in range(words):
                count += __builtin_popcountll(down[v, w])
            below[v] = count
            row = <const unsigned char*> &up[v, 0]  # little-endian: byte p holds operators 8p..8p+7
            for p in range(nbytes):
                if row[p]:
                    for c in range(m):
                        sums[v, c] += table[p, row[p], c]
    return depth_arr, height_arr, above_arr, below_arr, sums_arr


cdef int64_t _join(Py_ssize_t v, neighbours, int side, int64_t[::1] length, uint64_t[:, ::1] sets) except -1:
    """Operator ``v``'s longest path through ``neighbours`` (all on ``side`` of it: -1
    before, 1 after), having added each neighbour and its set to ``sets[v]``."""
    cdef Py_ssize_t u, w, n = length.shape[0], words = sets.shape[1]
    cdef int64_t best = -1
    for x in neighbours:
        u = x
        if u < 0 or u >= n or (u - v) * side <= 0:
            where = "earlier" if side < 0 else "later"
            raise ValueError(f"neighbour {u} of operator {v} is not {where} in the numbering")
        if length[u] > best:
            best = length[u]
        for w in range(words):
            sets[v, w] |= sets[u, w]
        sets[v, u >> 6] |= (<uint64_t> 1) << (u & 63)
    return best + 1
