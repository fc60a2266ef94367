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


cdef class _Level:
    """All states with the same number of scheduled operators."""

    cdef public cnp.ndarray bits, ready, mem, peak, parent, op, pending, table
    cdef int W, count, cap
    cdef uint64_t mask

    def __init__(self, int W, int cap):
        self.W = W
        self.count = 0
        self.cap = max(cap, 16)
        self.bits = np.zeros(self.cap * W, dtype=np.uint64)
        self.ready = np.zeros(self.cap * W, dtype=np.uint64)
        self.mem = np.zeros(self.cap, dtype=np.int64)
        self.peak = np.zeros(self.cap, dtype=np.int64)
        self.parent = np.zeros(self.cap, dtype=np.int32)
        self.op = np.zeros(self.cap, dtype=np.int32)
        self.pending = np.zeros(self.cap, dtype=np.int32)
        self._new_table(self.cap * 2)

    cdef void _new_table(self, int size):
        cdef int t = 16
        while t < size:
            t <<= 1
        self.table = np.full(t, -1, dtype=np.int32)
        self.mask = t - 1

    cdef void _grow(self):
        self.cap *= 2
        self.bits = np.resize(self.bits, self.cap * self.W)
        self.ready = np.resize(self.ready, self.cap * self.W)
        self.mem = np.resize(self.mem, self.cap)
        self.peak = np.resize(self.peak, self.cap)
        self.parent = np.resize(self.parent, self.cap)
        self.op = np.resize(self.op, self.cap)
        self.pending = np.resize(self.pending, self.cap)
        self._new_table(self.cap * 2)
        cdef word* b = <word*> cnp.PyArray_DATA(self.bits)
        cdef int32_t* pend = <int32_t*> cnp.PyArray_DATA(self.pending)
        cdef int32_t* table = <int32_t*> cnp.PyArray_DATA(self.table)
        cdef int i
        cdef uint64_t slot
        for i in range(self.count):
            slot = _key_hash(b + i * self.W, self.W, pend[i]) & self.mask
            while table[slot] != -1:
                slot = (slot + 1) & self.mask
            table[slot] = i

    cdef int find_or_add(self, const word* state, int pending, bint* added):
        """Index of (``state``, ``pending``); appended (fields but the key unset) if new."""
        cdef word* b = <word*> cnp.PyArray_DATA(self.bits)
        cdef int32_t* pend = <int32_t*> cnp.PyArray_DATA(self.pending)
        cdef int32_t* table = <int32_t*> cnp.PyArray_DATA(self.table)
        cdef uint64_t slot = _key_hash(state, self.W, pending) & self.mask
        cdef int idx, i
        while True:
            idx = table[slot]
            if idx == -1:
                break
            if pend[idx] == pending and _equal(b + idx * self.W, state, self.W):
                added[0] = False
                return idx
            slot = (slot + 1) & self.mask
        if self.count == self.cap:
            self._grow()
            return self.find_or_add(state, pending, added)
        idx = self.count
        self.count += 1
        table[slot] = idx
        for i in range(self.W):
            b[idx * self.W + i] = state[i]
        pend[idx] = pending
        added[0] = True
        return idx

    cdef void truncate(self, int keep):
        """Keep the ``keep`` states with the lowest (peak, live bytes, index)."""
        n = self.count
        chosen = np.lexsort((np.arange(n), self.mem[:n], self.peak[:n]))[:keep]
        chosen.sort()
        W = self.W
        word_index = (chosen[:, None] * W + np.arange(W)[None, :]).ravel()
        self.bits = np.ascontiguousarray(self.bits[word_index])
        self.ready = np.ascontiguousarray(self.ready[word_index])
        self.mem = np.ascontiguousarray(self.mem[chosen])
        self.peak = np.ascontiguousarray(self.peak[chosen])
        self.parent = np.ascontiguousarray(self.parent[chosen])
        self.op = np.ascontiguousarray(self.op[chosen])
        self.pending = np.ascontiguousarray(self.pending[chosen])
        self.count = keep
        self.cap = keep


def _masks(sets, int n, int W):
    out = np.zeros((max(len(sets), 1), W), dtype=np.uint64)
    for i, members in enumerate(sets):
        for v in members:
            out[i, v >> 6] |= np.uint64(1) << np.uint64(v & 63)
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
    cdef int64_t* npeak

    for m in range(W):
        T[m] = 0
    cur.find_or_add(T, -1, &added)
    R = <word*> cnp.PyArray_DATA(cur.ready)
    for v in initial_ready:
        R[v >> 6] |= (<word> 1) << (v & 63)
    (<int64_t*> cnp.PyArray_DATA(cur.mem))[0] = init_bytes
    (<int64_t*> cnp.PyArray_DATA(cur.peak))[0] = init_bytes
    history = []

    for depth in range(n):
        nxt = _Level(W, min(max(cur.count * 2, 16), hard_cap))
        for s in range(cur.count):
            if (explored & 1023) == 0 and time.monotonic() > stop_at:
                return ("timeout", -1, (), explored)
            explored += 1
            S = <word*> cnp.PyArray_DATA(cur.bits) + s * W
            R = <word*> cnp.PyArray_DATA(cur.ready) + s * W
            mem = (<int64_t*> cnp.PyArray_DATA(cur.mem))[s]
            pk = (<int64_t*> cnp.PyArray_DATA(cur.peak))[s]
            pend = (<int32_t*> cnp.PyArray_DATA(cur.pending))[s]
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
                npeak = <int64_t*> cnp.PyArray_DATA(nxt.peak)
                if added or newpk < npeak[idx]:
                    npeak[idx] = newpk
                    (<int64_t*> cnp.PyArray_DATA(nxt.mem))[idx] = after
                    (<int32_t*> cnp.PyArray_DATA(nxt.parent))[idx] = s
                    (<int32_t*> cnp.PyArray_DATA(nxt.op))[idx] = v
                if added:
                    nr = <word*> cnp.PyArray_DATA(nxt.ready) + idx * W
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
        history.append((cur.parent, cur.op))
        cur = nxt
    history.append((cur.parent, cur.op))

    order = []
    idx = 0
    final_peak = int(cur.peak[0])
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
