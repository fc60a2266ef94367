# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled structure features of the policy's view: :func:`.problem._structure` in C.

Counts, and sums of integer values below 2**53 (exact in float64 in any
order), so this and the NumPy path give the same arrays bit for bit.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

cnp.import_array()


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil  # GCC and Clang: index of the lowest set bit


def structure(preds, succs, weights):
    """Per operator: depth and height (edges on the longest path from a source
    and to a sink), its ancestors and descendants (counts, float64), and the
    sums of each column of ``weights`` (``n x m``, integer values) over its
    ancestors (``n x m``).

    ``preds[v]`` must come before ``v`` in ``0..n-1`` (a topological numbering).
    """
    cdef Py_ssize_t n = len(preds), words = (n + 63) // 64, v, u, j, w, c
    cdef const double[:, ::1] weight = np.ascontiguousarray(weights, dtype=np.float64)
    cdef Py_ssize_t m = weight.shape[1]
    depth_arr = np.zeros(n, dtype=np.int64)
    height_arr = np.zeros(n, dtype=np.int64)
    reach_arr = np.zeros((n, max(words, 1)), dtype=np.uint64)
    above_arr = np.zeros(n, dtype=np.float64)
    below_arr = np.zeros(n, dtype=np.float64)
    sums_arr = np.zeros((n, m), dtype=np.float64)
    cdef int64_t[::1] depth = depth_arr, height = height_arr
    cdef uint64_t[:, ::1] reach = reach_arr
    cdef double[::1] above = above_arr, below = below_arr
    cdef double[:, ::1] sums = sums_arr
    cdef int64_t best
    cdef uint64_t bits
    for v in range(n):
        best = -1
        for x in preds[v]:
            u = x
            if u >= v or u < 0:
                raise ValueError(f"predecessor {u} of operator {v} is not earlier in the numbering")
            if depth[u] > best:
                best = depth[u]
            for w in range(words):
                reach[v, w] |= reach[u, w]
            reach[v, u >> 6] |= (<uint64_t> 1) << (u & 63)
        depth[v] = best + 1
    for v in range(n - 1, -1, -1):
        best = -1
        for x in succs[v]:
            u = x
            if height[u] > best:
                best = height[u]
        height[v] = best + 1
    with nogil:
        for v in range(n):
            for w in range(words):
                bits = reach[v, w]
                while bits:
                    j = w * 64 + __builtin_ctzll(bits)
                    above[v] += 1.0
                    below[j] += 1.0
                    for c in range(m):
                        sums[v, c] += weight[j, c]
                    bits &= bits - 1
    return depth_arr, height_arr, above_arr, below_arr, sums_arr
