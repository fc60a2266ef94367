# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled exact search over partial schedules (the hot loop of the scheduler).

Same algorithm, interface and results as :mod:`.reference`, which documents it:
states are sets of scheduled operators stored as bitsets, deduplicated per
level in an open-addressing hash table; each keeps its live bytes, peak,
ready set and a back pointer for recovering the order.
"""

import time

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset

from .result import SearchResult

cnp.import_array()

ctypedef uint64_t word


cdef inline uint64_t _hash(const word* w, int W) noexcept nogil:
    cdef uint64_t h = <uint64_t> 0x9E3779B97F4A7C15ULL
    cdef uint64_t mult = <uint64_t> 0xBF58476D1CE4E5B9ULL
    cdef int i
    for i in range(W):
        h ^= w[i]
        h *= mult
        h ^= h >> 31
    return h


cdef inline uint64_t _key_hash(const word* w, int W, int pending) noexcept nogil:
    cdef uint64_t h = _hash(w, W) ^ (<uint64_t> (pending + 1) * <uint64_t> 0x94D049BB133111EBULL)
    h ^= h >> 29
    return h


cdef inline bint _subset(const word* a, const word* b, int W) noexcept nogil:
    """Whether bitset ``a`` is contained in bitset ``b``."""
    cdef int i
    for i in range(W):
        if a[i] & ~b[i]:
            return False
    return True


cdef inline bint _equal(const word* a, const word* b, int W) noexcept nogil:
    cdef int i
    for i in range(W):
        if a[i] != b[i]:
            return False
    return True


cdef struct _Rank:
    int64_t peak
    int64_t mem
    int32_t index


cdef inline bint _before(const _Rank* a, const _Rank* b) noexcept nogil:
    """Whether ``a`` ranks before ``b``: lower peak, then fewer live bytes, then lower index."""
    if a.peak != b.peak:
        return a.peak < b.peak
    if a.mem != b.mem:
        return a.mem < b.mem
    return a.index < b.index


cdef void _select(_Rank* r, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """Reorder ``r[:n]`` so that its ``k`` first entries are the ``k`` lowest
    (by :func:`_before`, a strict order: the set is unique), in no order."""
    cdef Py_ssize_t lo = 0, hi = n - 1, i, j, mid
    cdef _Rank pivot, t
    while lo < hi:
        mid = lo + (hi - lo) // 2  # median of three as the pivot
        if _before(&r[mid], &r[lo]):
            t = r[mid]; r[mid] = r[lo]; r[lo] = t
        if _before(&r[hi], &r[lo]):
            t = r[hi]; r[hi] = r[lo]; r[lo] = t
        if _before(&r[hi], &r[mid]):
            t = r[hi]; r[hi] = r[mid]; r[mid] = t
        pivot = r[mid]
        i = lo
        j = hi
        while i <= j:
            while _before(&r[i], &pivot):
                i += 1
            while _before(&pivot, &r[j]):
                j -= 1
            if i <= j:
                t = r[i]; r[i] = r[j]; r[j] = t
                i += 1
                j -= 1
        # now r[lo..j] <= pivot <= r[i..hi], and entries between equal the pivot
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


cdef class _Level:
    """All states with the same number of scheduled operators (in C arrays of
    ``cap`` states; a hash table over them finds a state's index)."""

    cdef word* bits
    cdef word* ready
    cdef int64_t* mem
    cdef int64_t* peak
    cdef int32_t* parent
    cdef int32_t* op
    cdef int32_t* pending
    cdef int32_t* table
    cdef int W, count, cap
    cdef uint64_t mask

    def __cinit__(self, int W, int cap):
        self.W = W
        self.count = 0
        self.cap = max(cap, 16)
        self.bits = <word*> malloc(<size_t> self.cap * W * sizeof(word))
        self.ready = <word*> malloc(<size_t> self.cap * W * sizeof(word))
        self.mem = <int64_t*> malloc(<size_t> self.cap * sizeof(int64_t))
        self.peak = <int64_t*> malloc(<size_t> self.cap * sizeof(int64_t))
        self.parent = <int32_t*> malloc(<size_t> self.cap * sizeof(int32_t))
        self.op = <int32_t*> malloc(<size_t> self.cap * sizeof(int32_t))
        self.pending = <int32_t*> malloc(<size_t> self.cap * sizeof(int32_t))
        self.table = NULL
        if not (self.bits and self.ready and self.mem and self.peak and self.parent and self.op and self.pending):
            raise MemoryError()
        self._new_table(self.cap * 2)

    def __dealloc__(self):
        free(self.bits)
        free(self.ready)
        free(self.mem)
        free(self.peak)
        free(self.parent)
        free(self.op)
        free(self.pending)
        free(self.table)

    cdef void _new_table(self, int size) except *:
        cdef size_t t = 16
        while t < <size_t> size:
            t <<= 1
        free(self.table)
        self.table = <int32_t*> malloc(t * sizeof(int32_t))
        if not self.table:
            raise MemoryError()
        memset(self.table, 0xFF, t * sizeof(int32_t))  # every entry -1
        self.mask = t - 1

    cdef void _grow(self) except *:
        self.cap *= 2
        self.bits = <word*> _resized(self.bits, <size_t> self.cap * self.W * sizeof(word))
        self.ready = <word*> _resized(self.ready, <size_t> self.cap * self.W * sizeof(word))
        self.mem = <int64_t*> _resized(self.mem, <size_t> self.cap * sizeof(int64_t))
        self.peak = <int64_t*> _resized(self.peak, <size_t> self.cap * sizeof(int64_t))
        self.parent = <int32_t*> _resized(self.parent, <size_t> self.cap * sizeof(int32_t))
        self.op = <int32_t*> _resized(self.op, <size_t> self.cap * sizeof(int32_t))
        self.pending = <int32_t*> _resized(self.pending, <size_t> self.cap * sizeof(int32_t))
        self._new_table(self.cap * 2)
        cdef int i
        cdef uint64_t slot
        for i in range(self.count):
            slot = _key_hash(self.bits + <size_t> i * self.W, self.W, self.pending[i]) & self.mask
            while self.table[slot] != -1:
                slot = (slot + 1) & self.mask
            self.table[slot] = i

    cdef int find_or_add(self, const word* state, int pending, bint* added) except -2:
        """Index of (``state``, ``pending``); appended (fields but the key unset) if new."""
        cdef uint64_t slot = _key_hash(state, self.W, pending) & self.mask
        cdef int idx, i
        while True:
            idx = self.table[slot]
            if idx == -1:
                break
            if self.pending[idx] == pending and _equal(self.bits + <size_t> idx * self.W, state, self.W):
                added[0] = False
                return idx
            slot = (slot + 1) & self.mask
        if self.count == self.cap:
            self._grow()
            return self.find_or_add(state, pending, added)
        idx = self.count
        self.count += 1
        self.table[slot] = idx
        for i in range(self.W):
            self.bits[<size_t> idx * self.W + i] = state[i]
        self.pending[idx] = pending
        added[0] = True
        return idx

    cdef void truncate(self, int keep) except *:
        """Keep the ``keep`` states with the lowest (peak, live bytes, index), in index order.
        The hash table no longer finds them: the level is only read afterwards."""
        cdef int n = self.count, i, j, W = self.W
        cdef _Rank* rank = <_Rank*> malloc(<size_t> n * sizeof(_Rank))
        cdef char* chosen = <char*> calloc(n, 1)
        if not rank or not chosen:
            free(rank)
            free(chosen)
            raise MemoryError()
        for i in range(n):
            rank[i].peak = self.peak[i]
            rank[i].mem = self.mem[i]
            rank[i].index = i
        _select(rank, n, keep)
        for i in range(keep):
            chosen[rank[i].index] = 1
        free(rank)
        j = 0
        for i in range(n):  # moved down in index order (j <= i: in place)
            if not chosen[i]:
                continue
            if j != i:
                memcpy(self.bits + <size_t> j * W, self.bits + <size_t> i * W, W * sizeof(word))
                memcpy(self.ready + <size_t> j * W, self.ready + <size_t> i * W, W * sizeof(word))
                self.mem[j] = self.mem[i]
                self.peak[j] = self.peak[i]
                self.parent[j] = self.parent[i]
                self.op[j] = self.op[i]
                self.pending[j] = self.pending[i]
            j += 1
        free(chosen)
        self.count = keep

    cdef tuple steps(self):
        """Each state's parent and last operator, as arrays (kept to recover orders)."""
        cdef cnp.ndarray parent = np.empty(self.count, dtype=np.int32)
        cdef cnp.ndarray op = np.empty(self.count, dtype=np.int32)
        if self.count:
            memcpy(cnp.PyArray_DATA(parent), self.parent, <size_t> self.count * sizeof(int32_t))
            memcpy(cnp.PyArray_DATA(op), self.op, <size_t> self.count * sizeof(int32_t))
        return parent, op


cdef void* _resized(void* block, size_t size) except NULL:
    cdef void* grown = realloc(block, size)
    if not grown:
        raise MemoryError()
    return grown


def _masks(sets, int n, int W):
    out = np.zeros((max(len(sets), 1), W), dtype=np.uint64)
    cdef uint64_t[:, ::1] bits = out
    cdef int i = 0, v
    for members in sets:
        for v in members:
            bits[i, v >> 6] |= (<uint64_t> 1) << (v & 63)
        i += 1
    return out


def search(sub, long long budget, *, long long floor=0, int max_states=1 << 21, deadline=None):
    """Exact search of a :class:`~.problem.Subproblem`; see :func:`.reference.search`."""
    n = sub.size
    W = max(1, (n + 63) // 64)
    if sub.init_bytes > budget:
        return SearchResult("infeasible", -1, (), 0)
    if n == 0:
        return SearchResult("optimal", sub.init_bytes, (), 0)
    succs = [[] for _ in range(n)]
    for v, ps in enumerate(sub.preds):
        for u in ps:
            succs[u].append(v)
    frees_ptr = np.zeros(n + 1, dtype=np.int32)
    succ_ptr = np.zeros(n + 1, dtype=np.int32)
    for v in range(n):
        frees_ptr[v + 1] = frees_ptr[v] + len(sub.op_frees[v])
        succ_ptr[v + 1] = succ_ptr[v] + len(succs[v])
    arrays = (
        _masks(sub.preds, n, W),
        _masks(sub.free_consumers, n, W),
        np.asarray(sub.out_bytes, dtype=np.int64),
        np.asarray(sub.dead_out, dtype=np.int64),
        np.asarray(sub.free_size if sub.free_size else [0], dtype=np.int64),
        frees_ptr,
        np.asarray([k for f in sub.op_frees for k in f] or [0], dtype=np.int32),
        succ_ptr,
        np.asarray([w for s in succs for w in s] or [0], dtype=np.int32),
    )
    lazy_preds = [[] for _ in range(n)]
    for v, c in enumerate(sub.lazy):
        if c >= 0:
            lazy_preds[c].append(v)
    other_preds = [[u for u in sub.preds[v] if sub.lazy[u] != v] for v in range(n)]
    lp_ptr = np.zeros(n + 1, dtype=np.int32)
    for v in range(n):
        lp_ptr[v + 1] = lp_ptr[v] + len(lazy_preds[v])
    lp_idx = np.asarray([u for lp in lazy_preds for u in lp] or [0], dtype=np.int32)
    arrays += (np.asarray(sub.lazy, dtype=np.int32), _masks(lazy_preds, n, W), _masks(other_preds, n, W),
               lp_ptr, lp_idx)
    initial_ready = [v for v in range(n) if not sub.preds[v]]
    status, peak, order, explored = _run(
        n, W, arrays, initial_ready, sub.init_bytes, sub.init_dead, budget, floor, max_states,
        deadline if deadline is not None else 1e300,
    )
    return SearchResult(status, peak, order, explored)


cdef tuple _run(int n, int W, tuple arrays, list initial_ready, int64_t init_bytes, int64_t init_dead,
                int64_t budget, int64_t floor, int max_states, double stop_at):
    cdef cnp.ndarray pred_np = arrays[0], cons_np = arrays[1], out_np = arrays[2], dead_np = arrays[3]
    cdef cnp.ndarray size_np = arrays[4], fptr_np = arrays[5], fidx_np = arrays[6]
    cdef cnp.ndarray sptr_np = arrays[7], sidx_np = arrays[8]
    cdef cnp.ndarray lazy_np = arrays[9], lzp_np = arrays[10], othp_np = arrays[11]
    cdef const int32_t* lazy = <int32_t*> cnp.PyArray_DATA(lazy_np)
    cdef const word* lzp = <word*> cnp.PyArray_DATA(lzp_np)
    cdef const word* othp = <word*> cnp.PyArray_DATA(othp_np)
    cdef cnp.ndarray lpp_np = arrays[12], lpi_np = arrays[13]
    cdef const int32_t* lpp = <int32_t*> cnp.PyArray_DATA(lpp_np)
    cdef const int32_t* lpi = <int32_t*> cnp.PyArray_DATA(lpi_np)
    cdef cnp.ndarray tmp2_np = np.zeros(W, dtype=np.uint64)
    cdef word* T2 = <word*> cnp.PyArray_DATA(tmp2_np)
    cdef int64_t limit
    cdef const word* pred = <word*> cnp.PyArray_DATA(pred_np)
    cdef const word* cons = <word*> cnp.PyArray_DATA(cons_np)
    cdef const int64_t* out_b = <int64_t*> cnp.PyArray_DATA(out_np)
    cdef const int64_t* dead = <int64_t*> cnp.PyArray_DATA(dead_np)
    cdef const int64_t* fsize = <int64_t*> cnp.PyArray_DATA(size_np)
    cdef const int32_t* fptr = <int32_t*> cnp.PyArray_DATA(fptr_np)
    cdef const int32_t* fidx = <int32_t*> cnp.PyArray_DATA(fidx_np)
    cdef const int32_t* sptr = <int32_t*> cnp.PyArray_DATA(sptr_np)
    cdef const int32_t* sidx = <int32_t*> cnp.PyArray_DATA(sidx_np)

    cdef cnp.ndarray tmp_np = np.zeros(W, dtype=np.uint64)
    cdef word* T = <word*> cnp.PyArray_DATA(tmp_np)
    cdef cnp.ndarray moves_np = np.zeros(3 * n, dtype=np.int64)
    cdef int64_t* moves = <int64_t*> cnp.PyArray_DATA(moves_np)

    cdef _Level cur = _Level(W, 16)
    cdef _Level nxt
    cdef bint added, forced, allowed, truncated = False
    cdef int i, j, s, v, w, k, idx, nm, m, depth, pend, c, block
    cdef int hard_cap = 2 * max_states
    cdef int64_t mem, pk, step, freed, after, newpk
    cdef word bit
    cdef long long explored = 0
    cdef word* S
    cdef word* R
    cdef word* nr

    for m in range(W):
        T[m] = 0
    cur.find_or_add(T, -1, &added)
    R = cur.ready
    for m in range(W):
        R[m] = 0
    for v in initial_ready:
        R[v >> 6] |= (<word> 1) << (v & 63)
    cur.mem[0] = init_bytes
    cur.peak[0] = init_bytes
    cur.parent[0] = 0
    cur.op[0] = 0
    history = []

    for depth in range(n):
        nxt = _Level(W, min(max(cur.count * 2, 16), hard_cap))
        for s in range(cur.count):
            if (explored & 1023) == 0 and time.monotonic() > stop_at:
                return ("timeout", -1, (), explored)
            explored += 1
            S = cur.bits + <size_t> s * W
            R = cur.ready + <size_t> s * W
            mem = cur.mem[s]
            pk = cur.peak[s]
            pend = cur.pending[s]
            nm = 0
            forced = False
            for i in range(W):
                if forced:
                    break
                bit = R[i]
                while bit:
                    v = i * 64 + _ctz(bit)
                    bit &= bit - 1
                    c = lazy[v]
                    allowed = True
                    if pend >= 0:  # inside a block: the consumer's lazy inputs, then the consumer
                        allowed = c == pend or v == pend
                    elif c >= 0:  # a lazy operator starts its consumer's block once all its inputs can run
                        for m in range(W):
                            if (othp[c * W + m] & ~S[m]) or (lzp[c * W + m] & ~(S[m] | R[m])):
                                allowed = False
                                break
                    if not allowed and pend >= 0:
                        continue
                    for m in range(W):
                        T[m] = S[m]
                    T[v >> 6] |= (<word> 1) << (v & 63)
                    step = mem + out_b[v]
                    freed = dead[v] + (init_dead if depth == 0 else 0)
                    for j in range(fptr[v], fptr[v + 1]):
                        k = fidx[j]
                        if _subset(cons + k * W, T, W):
                            freed += fsize[k]
                    after = step - freed
                    if pend < 0 and after <= mem and step <= (pk if pk > floor else floor):
                        # frees at no cost: the only move needed (outside any block)
                        moves[0] = v
                        moves[1] = step
                        moves[2] = after
                        nm = 1
                        forced = True
                        break
                    if allowed:
                        moves[nm * 3] = v
                        moves[nm * 3 + 1] = step
                        moves[nm * 3 + 2] = after
                        nm += 1
            if pend < 0 and not forced:  # a whole block that frees at no cost is the only move
                limit = pk if pk > floor else floor
                for j in range(nm):
                    v = <int> moves[j * 3]
                    if lazy[v] >= 0 and _free_block(lazy[v], S, W, mem, limit, depth == 0, init_dead, out_b,
                                                    dead, fptr, fidx, fsize, cons, lpp, lpi, T2):
                        moves[0] = moves[j * 3]
                        moves[1] = moves[j * 3 + 1]
                        moves[2] = moves[j * 3 + 2]
                        nm = 1
                        break
            for j in range(nm):
                v = <int> moves[j * 3]
                step = moves[j * 3 + 1]
                after = moves[j * 3 + 2]
                newpk = step if step > pk else pk
                if newpk > budget:
                    continue
                if nxt.count >= hard_cap:
                    truncated = True
                    break
                for m in range(W):
                    T[m] = S[m]
                T[v >> 6] |= (<word> 1) << (v & 63)
                if pend >= 0:
                    block = -1 if v == pend else pend
                else:
                    block = lazy[v] if (lazy[v] >= 0 and not forced) else -1
                idx = nxt.find_or_add(T, block, &added)
                if added or newpk < nxt.peak[idx]:
                    nxt.peak[idx] = newpk
                    nxt.mem[idx] = after
                    nxt.parent[idx] = s
                    nxt.op[idx] = v
                if added:
                    nr = nxt.ready + <size_t> idx * W
                    for m in range(W):
                        nr[m] = R[m]
                    nr[v >> 6] &= ~((<word> 1) << (v & 63))
                    for i in range(sptr[v], sptr[v + 1]):
                        w = sidx[i]
                        if _subset(pred + w * W, T, W):
                            nr[w >> 6] |= (<word> 1) << (w & 63)
        if nxt.count == 0:
            return ("truncated" if truncated else "infeasible", -1, (), explored)
        if nxt.count > max_states:
            truncated = True
            nxt.truncate(max_states)
        history.append(cur.steps())
        cur = nxt
    history.append(cur.steps())

    order = []
    idx = 0
    final_peak = cur.peak[0]
    for depth in range(n, 0, -1):
        parents, ops = history[depth]
        order.append(int(ops[idx]))
        idx = int(parents[idx])
    order.reverse()
    return ("truncated" if truncated else "optimal", final_peak, tuple(order), explored)


cdef bint _free_block(int c, const word* S, int W, int64_t mem, int64_t limit, bint first, int64_t init_dead,
                      const int64_t* out_b, const int64_t* dead, const int32_t* fptr, const int32_t* fidx,
                      const int64_t* fsize, const word* cons, const int32_t* lpp, const int32_t* lpi,
                      word* T) noexcept nogil:
    """Whether ``c``'s block (its unscheduled lazy inputs in index order, then ``c``)
    run from state ``S`` ends with no more bytes alive and no step above ``limit``."""
    cdef int m, j, k, v, idx
    cdef int64_t live = mem, step
    cdef bint started = False
    for m in range(W):
        T[m] = S[m]
    for idx in range(lpp[c], lpp[c + 1] + 1):
        v = lpi[idx] if idx < lpp[c + 1] else c
        if (T[v >> 6] >> (v & 63)) & 1:
            continue
        step = live + out_b[v]
        if step > limit:
            return False
        T[v >> 6] |= (<word> 1) << (v & 63)
        live = step - dead[v]
        if first and not started:
            live -= init_dead
        started = True
        for j in range(fptr[v], fptr[v + 1]):
            k = fidx[j]
            if _subset(cons + k * W, T, W):
                live -= fsize[k]
    return live <= mem


cdef inline int _ctz(word x) noexcept nogil:
    return __builtin_ctzll(x)


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil
