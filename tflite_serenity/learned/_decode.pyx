# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled greedy decoding: the loop of :func:`.infer.greedy_order` in C, same orders.

The encoder still runs in NumPy, once (``make_tables``); this module runs the
decoder's steps: the state updates of :meth:`.problem.OrderState.update`,
the context and candidate features, and the pointer's logits
``clip * tanh(score . tanh(query + key_v + W_cand c_v))``.

Why the order is exactly the NumPy one
--------------------------------------
The state (bytes alive, peak, work and parameter shares, what each ready
operator frees, whether it reads the last operator) is computed with the
same floating-point operations in the same order as the NumPy path, so it is
bit-identical. The logits are not: C sums the products in another order
than BLAS, and its ``tanh`` inside the sum is ``1 - 2 / (exp(2x) + 1)``
(within 2e-15 of the true value) where NumPy has its own. Each of the 64
terms ``tanh(pre_d) * score_d`` is then off by a few 1e-15 times
``|score_d|``, the sum (``|score|`` adds up to about 5 in the shipped
policies) by well under 1e-12, and the logit ``clip *
tanh(sum)`` (``clip`` = 10) by under 1e-11; NumPy's own logits carry errors
of the same kind. Call the largest possible difference between the two ``e``
(so ``e`` < 1e-10 with much room to spare).

When C's best logit leads every other by more than ``margin`` (1e-7, over a
thousand times ``2 e``), NumPy's logits have the same leader, leading by
more than ``margin - 2 e``, which is also above the ``_NEAR_TIE`` (1e-9)
under which the NumPy path would take its log-softmax; so NumPy picks the
same operator. Otherwise (a near-tie: in practice candidates the policy
scores alike, whose NumPy logits are equal or differ in the last bits) the step calls
``fallback``, the NumPy computation itself on the same state, whose answer
is the NumPy one by definition. Every step picks what the NumPy path picks,
so the orders are equal; ``tests/learned/test_decode.py`` checks it.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport cos, exp, log1p, sin, tanh, M_PI
from libc.stdint cimport int64_t

cnp.import_array()

#: Top two logits closer than this: the step is decided by the NumPy fallback.
MARGIN = 1e-7


cdef tuple _csr(lists):
    """Lists of ints as (start offsets, flat values) int64 arrays."""
    cdef Py_ssize_t n = len(lists), i, at = 0
    starts = np.empty(n + 1, dtype=np.int64)
    cdef int64_t[::1] s = starts
    for i in range(n):
        s[i] = at
        at += len(lists[i])
    s[n] = at
    flat = np.empty(at, dtype=np.int64)
    cdef int64_t[::1] f = flat
    at = 0
    for xs in lists:
        for x in xs:
            f[at] = x
            at += 1
    return starts, flat


cdef inline bint _follows(const int64_t[::1] ps, const int64_t[::1] pf, int64_t u, int64_t last) noexcept nogil:
    """Whether ``last`` is a predecessor of ``u``."""
    cdef int64_t j
    for j in range(ps[u], ps[u + 1]):
        if pf[j] == last:
            return True
    return False


cdef inline double _freed(int64_t u, double start_dead, const double[::1] op_dead, const int64_t[::1] rs,
                          const int64_t[::1] rf, const int64_t[::1] remaining,
                          const double[::1] flow_size) noexcept nogil:
    """Scaled bytes that die once ready ``u`` runs (the sum in :meth:`OrderState.freed`'s order)."""
    cdef double total = op_dead[u] + start_dead
    cdef int64_t j
    for j in range(rs[u], rs[u + 1]):
        if remaining[rf[j]] == 1:
            total += flow_size[rf[j]]
    return total


cdef class _Tables:
    """The encoder's arrays one step reads, as typed views (from the NumPy tables)."""

    cdef double[:, ::1] from_last, keys, context_map, cand_t
    cdef double[::1] from_start, log_add, score
    cdef double clip
    cdef object numpy_tables

    def __init__(self, tables):
        self.numpy_tables = tables
        self.from_last = np.ascontiguousarray(tables.from_last, dtype=np.float64)
        self.keys = np.ascontiguousarray(tables.enc.keys, dtype=np.float64)
        self.context_map = np.ascontiguousarray(tables.enc.context_map, dtype=np.float64)
        self.cand_t = np.ascontiguousarray(tables.cand_t, dtype=np.float64)
        self.from_start = np.ascontiguousarray(tables.from_start, dtype=np.float64)
        self.log_add = np.ascontiguousarray(tables.log_add, dtype=np.float64)
        self.score = np.ascontiguousarray(tables.score, dtype=np.float64)
        self.clip = float(tables.w.clip)


cdef void _query(_Tables t, int64_t last, const double* context, int C, double* query) noexcept nogil:
    """The query row: the last operator's part (with the constant) plus context @ context_map."""
    cdef int D = t.score.shape[0], c, d
    cdef double x
    for d in range(D):
        query[d] = 0.0
    for c in range(C):
        x = context[c]
        for d in range(D):
            query[d] += x * t.context_map[c, d]
    for d in range(D):
        query[d] += t.from_start[d] if last < 0 else t.from_last[last, d]


cdef inline double _tanh(double x) noexcept nogil:
    """``tanh(x)`` as ``1 - 2 / (exp(2x) + 1)``: within 2e-15 of it (absolute), about
    three times faster than libm's ``tanh``; infinities of ``exp`` give exactly +-1."""
    return 1.0 - 2.0 / (exp(2.0 * x) + 1.0)


cdef double _logit(_Tables t, int64_t u, const double* query, const double* cand) noexcept nogil:
    """``clip * tanh(score . tanh(query + key_u + cand @ cand_t))`` for one ready operator."""
    cdef int D = t.score.shape[0], d
    cdef const double* key = &t.keys[u, 0]
    cdef const double* c0 = &t.cand_t[0, 0]
    cdef const double* c1 = &t.cand_t[1, 0]
    cdef const double* c2 = &t.cand_t[2, 0]
    cdef const double* c3 = &t.cand_t[3, 0]
    cdef const double* score = &t.score[0]
    cdef double total = 0.0, pre
    for d in range(D):
        pre = (query[d] + key[d]) + (cand[0] * c0[d] + cand[1] * c1[d] + cand[2] * c2[d] + cand[3] * c3[d])
        total += _tanh(pre) * score[d]
    return t.clip * tanh(total)


def greedy_order(inst, make_tables, fallback, double margin=MARGIN):
    """The greedy order of ``inst`` and how many steps ``fallback`` decided.

    ``make_tables()`` returns the NumPy path's ``_GreedyTables`` (called at
    the first step with a choice, never for a graph with one order);
    ``fallback(step, last, ready, freed, follows, live, peak, work, param)``
    is the NumPy step, called on near-ties (see the module docstring), and
    returns an index into ``ready``.
    """
    cdef Py_ssize_t n = inst.num_operators
    cdef int64_t[::1] ss, sf, ps, pf, is_, if_, rs, rf
    ss, sf = _csr(inst.succs)
    ps, pf = _csr(inst.preds)
    is_, if_ = _csr(inst.op_inputs)
    rs, rf = _csr(inst.op_reads)
    cdef const double[::1] op_add = np.ascontiguousarray(inst.op_add, dtype=np.float64)
    cdef const double[::1] op_dead = np.ascontiguousarray(inst.op_dead, dtype=np.float64)
    cdef const double[::1] op_work = np.ascontiguousarray(inst.op_work, dtype=np.float64)
    cdef const double[::1] op_param = np.ascontiguousarray(inst.op_param, dtype=np.float64)
    cdef const double[::1] flow_size = np.ascontiguousarray(inst.flow_size, dtype=np.float64)
    waiting_arr = np.array([len(p) for p in inst.preds], dtype=np.int64)
    remaining_arr = np.array([len(c) for c in inst.flow_consumers], dtype=np.int64)
    cdef int64_t[::1] waiting = waiting_arr, remaining = remaining_arr
    ready_arr = np.empty(max(n, 1), dtype=np.int64)
    order_arr = np.empty(n, dtype=np.int64)
    work_arr = np.empty((4, max(n, 1)), dtype=np.float64)  # per ready slot: freed, follows, logit
    cdef int64_t[::1] ready = ready_arr, order = order_arr
    cdef double[:, ::1] scratch = work_arr
    cdef Py_ssize_t nready = 0, step, i, j, best, slot
    cdef int64_t v, u, last = -1
    cdef int k = inst.k
    cdef double live = inst.init_live, peak = 0.0, work = 0.0, param = 0.0
    cdef double init_dead = inst.init_dead, start_dead, total, step_bytes, turn_w, turn_p, add, top, second
    cdef double fixed_k = 1.0 / k, fixed_load = log1p(float(inst.params_load))
    cdef double context[11]
    cdef double cand[4]
    query_arr = np.empty(64, dtype=np.float64)
    cdef double[::1] query = query_arr
    cdef _Tables tables = None
    cdef Py_ssize_t fallbacks = 0
    for v in range(n):
        if waiting[v] == 0:
            ready[nready] = v
            nready += 1
    for step in range(n):
        if nready == 0:
            raise ValueError(f"no operator is ready at step {step}: the graph is not a DAG")
        start_dead = init_dead if step == 0 else 0.0
        if nready == 1:
            slot = 0
        else:
            if tables is None:
                tables = _Tables(make_tables())
                if tables.score.shape[0] > query.shape[0]:
                    query_arr = np.empty(tables.score.shape[0], dtype=np.float64)
                    query = query_arr
            turn_w = 2 * M_PI * k * work
            turn_p = 2 * M_PI * k * param
            context[0] = <double> step / <double> n
            context[1] = log1p(live)
            context[2] = log1p(peak)
            context[3] = work
            context[4] = sin(turn_w)
            context[5] = cos(turn_w)
            context[6] = param
            context[7] = sin(turn_p)
            context[8] = cos(turn_p)
            context[9] = fixed_k
            context[10] = fixed_load
            _query(tables, last, context, 11, &query[0])
            best, top, second = 0, -1e300, -1e300
            for i in range(nready):
                u = ready[i]
                scratch[0, i] = _freed(u, start_dead, op_dead, rs, rf, remaining, flow_size)
                scratch[1, i] = 1.0 if _follows(ps, pf, u, last) else 0.0
                add = op_add[u]
                cand[0] = tables.log_add[u]
                cand[1] = log1p(scratch[0, i])
                cand[2] = scratch[1, i]
                cand[3] = log1p(live + add - peak if live + add - peak > 0.0 else 0.0)
                scratch[2, i] = _logit(tables, u, &query[0], cand)
                if scratch[2, i] > top:
                    second, top, best = top, scratch[2, i], i
                elif scratch[2, i] > second:
                    second = scratch[2, i]
            slot = best
            if not top - second > margin:
                fallbacks += 1
                slot = fallback(step, last, [ready[i] for i in range(nready)],
                                [scratch[0, i] for i in range(nready)],
                                [scratch[1, i] for i in range(nready)], live, peak, work, param)
        v = ready[slot]
        # run v: the same updates, in the same order, as OrderState.update
        total = _freed(v, start_dead, op_dead, rs, rf, remaining, flow_size)
        for i in range(slot, nready - 1):
            ready[i] = ready[i + 1]
        nready -= 1
        for j in range(ss[v], ss[v + 1]):
            u = sf[j]
            waiting[u] -= 1
            if waiting[u] == 0:
                i = nready  # insert in ascending position
                while i > 0 and ready[i - 1] > u:
                    ready[i] = ready[i - 1]
                    i -= 1
                ready[i] = u
                nready += 1
        for j in range(is_[v], is_[v + 1]):
            remaining[if_[j]] -= 1
        step_bytes = live + op_add[v]
        live = step_bytes - total
        peak = peak if peak >= step_bytes else step_bytes
        work = work + op_work[v]
        param = param + op_param[v]
        last = v
        order[step] = v
    return tuple(order_arr.tolist()), fallbacks
