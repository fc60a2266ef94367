# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled structure features of the policy's view: the loops of
:func:`.problem._structure` in C, with the same (integer) results.

Everything here is a count or a 0/1 entry, so the two paths agree exactly;
the floating-point features built from them are computed by the caller, in
NumPy, the same way for both.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

cnp.import_array()


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil  # GCC and Clang: index of the lowest set bit


def structure(preds, succs):
    """Per operator: depth and height (edges on the longest path from a source
    and to a sink), and the ancestor matrix ``A[v, u] = 1.0`` when ``u`` reaches
    ``v`` (float64, ``n x n``), with its row sums (ancestors) and column sums
    (descendants) as float64.

    ``preds[v]`` must come before ``v`` in ``0..n-1`` (a topological numbering).
    """
    cdef Py_ssize_t n = len(preds), words = (n + 63) // 64, v, u, j, w
    depth_arr = np.zeros(n, dtype=np.int64)
    height_arr = np.zeros(n, dtype=np.int64)
    reach_arr = np.zeros((n, max(words, 1)), dtype=np.uint64)
    ancestors_arr = np.zeros((n, n), dtype=np.float64)
    row_arr = np.zeros(n, dtype=np.float64)
    column_arr = np.zeros(n, dtype=np.float64)
    cdef int64_t[::1] depth = depth_arr, height = height_arr
    cdef uint64_t[:, ::1] reach = reach_arr
    cdef double[:, ::1] ancestors = ancestors_arr
    cdef double[::1] row = row_arr, column = column_arr
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
    for v in range(n):
        for w in range(words):
            bits = reach[v, w]
            while bits:
                j = w * 64 + __builtin_ctzll(bits)
                ancestors[v, j] = 1.0
                row[v] += 1.0
                column[j] += 1.0
                bits &= bits - 1
    return depth_arr, height_arr, ancestors_arr, row_arr, column_arr
