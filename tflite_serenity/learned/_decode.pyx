# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled greedy decoding: the loop of :func:`.infer.greedy_order` in C, same orders.

The encoder still runs in NumPy, once (``make_tables``); this module runs the
decoder's steps: the state updates of :meth:`.problem.OrderState.update`,
the context and candidate features, and the pointer's logits
``clip * tanh(score . tanh(query + key_v + W_cand c_v))``. A step with a
choice is scored by a float32 first pass (the fast tier) and, when that
cannot settle it, by the double-precision logits (the exact tier), and when
those cannot either, by the NumPy step itself.

Why the order is exactly the NumPy one
--------------------------------------
The state (bytes alive, peak, work and parameter shares, what each ready
operator frees, whether it reads the last operator) is computed with the
same floating-point operations in the same order as the NumPy path, so it is
bit-identical. The exact tier's logits are not: C sums the products in another order
than BLAS, and its ``tanh`` inside the sum is ``1 - 2 / (exp(2x) + 1)``
(within 2e-15 of the true value) where NumPy has its own. Each of the 64
terms ``tanh(pre_d) * score_d`` is then off by a few 1e-15 times
``|score_d|``, the sum (``|score|`` adds up to about 5 in the shipped
policies) by well under 1e-12, and the logit ``clip *
tanh(sum)`` (``clip`` = 10) by under 1e-11; NumPy's own logits carry errors
of the same kind. Call the largest possible difference between the two ``e``
(so ``e`` < 1e-10 with much room to spare).

When the exact tier's best logit leads every other by more than ``margin`` (1e-7, over a
thousand times ``2 e``), NumPy's logits have the same leader, leading by
more than ``margin - 2 e``, which is also above the ``_NEAR_TIE`` (1e-9)
under which the NumPy path would take its log-softmax; so NumPy picks the
same operator. Otherwise (a near-tie: in practice candidates the policy
scores alike, whose NumPy logits are equal or differ in the last bits) the step calls
``fallback``, the NumPy computation itself on the same state, whose answer
is the NumPy one by definition.

The fast tier settles a step only when it proves that the exact tier's
logits lead by more than ``margin`` (below), so it picks what the exact tier
would, without a fallback. Every step picks what the NumPy path picks, so
the orders are equal; ``tests/learned/test_decode.py`` checks it.

The fast tier and its bound
---------------------------
Per ready operator ``v`` it computes ``S_v = score . tanh(pre)`` in float32
(:func:`_fast_sum`, four lanes with SSE2): the pre-activation
``(query + key_v) + (c1 cand_t[1] + c3 cand_t[3])`` from float32 copies
(``key_v`` with ``log_add_v cand_t[0]``, the query with ``cand_t[2]`` when
``v`` reads the last operator), ``tanh`` by an odd rational
(:func:`_fast_tanh`), the products by the score summed in eight lanes and a
pairwise tree. With ``u = 2^-24`` (float32's rounding) and ``M`` a bound on
``|query_d| + |cand_t[2,d]| + |key_vd| + |log_add_v cand_t[0,d]| + |c1_v cand_t[1,d]|
+ |c3_v cand_t[3,d]|`` over the step's ready operators (from per-row maxima,
raised for their own rounding; about 5 in the shipped policies):

* each of those terms goes through at most five float32 roundings and two
  double ones, so the float32 pre-activation is within ``6 u M`` of the
  exact one, and within ``[-FAST_RANGE, FAST_RANGE]`` (8) when ``M`` is
  (steps where it is not go to the exact tier);
* there the rational is within ``FAST_TANH_ERROR`` (5e-7) of ``tanh`` at
  every float32 (the largest error over all of them is 4.29e-7, checked
  exhaustively with :func:`fast_tanh_error`; the evaluation is IEEE float32
  as written, with no contraction into FMAs on the default x86-64 target),
  and ``tanh`` is 1-Lipschitz;
* the two roundings of each product by the (rounded) score and the at most
  ``P/8 + 2`` of the sum (``P``, the width padded to a multiple of 8: 64)
  add ``(P/8 + 4) u`` of ``sum |score_d|``, and the exact tier's own sum is
  within ``2e-14 + 1e-15 M`` of exact.

So each fast sum is within ``E = sum|score_d| (FAST_TANH_ERROR + (P/8 + 5) u
+ 6 u M + 2e-14 + 1e-15 M)`` of the exact tier's (:func:`_fast_bound`, with
a little room for its own rounding; about 1.5e-5 here). With ``S1``, ``S2``
the two largest fast sums, the exact tier's sum of ``S1``'s operator is at
least ``S1 - E`` and every other at most ``S2 + E``; as ``tanh`` increases,
when ``clip * (tanh(S1 - E) - tanh(S2 + E))`` exceeds ``margin`` (plus
``1e-12 clip (1 + sum|score_d|)`` for the rounding of this test and of
libm's ``tanh``), the exact tier's logit for that operator leads every other
by more than ``margin``, and the fast tier takes it. In logits that asks for
a lead of about 3e-4, which on the zoo's graphs all but a few percent of the
steps have; the others (ties, near-ties) go to the exact tier as before.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport INFINITY, M_PI, cos, exp, fabs, log1p, sin, tanh
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.string cimport memcpy

cnp.import_array()

#: Top two exact-tier logits closer than this: the step is decided by the NumPy fallback.
MARGIN = 1e-7


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


cdef double _U32 = 2.0 ** -24  # float32's unit roundoff
cdef double _FAST_TANH_ERROR = 5e-7
cdef double _FAST_RANGE = 8.0
#: Bound on ``|fast tanh(x) - tanh(x)|`` at every float32 ``|x| <= FAST_RANGE`` (module docstring).
FAST_TANH_ERROR = _FAST_TANH_ERROR
#: The fast tanh's domain: the fast tier takes a step only when every pre-activation is provably within it.
FAST_RANGE = _FAST_RANGE

cdef enum:
    _MAX_FAST = 512  # widest row the fast tier takes (its per-operator buffer is on the stack)
    _CONTEXT = 11  # context features (problem.CONTEXT_FEATURES)


cdef inline float _fast_tanh(float x) noexcept nogil:
    """``tanh(x)`` for ``|x| <= FAST_RANGE`` in float32, within ``FAST_TANH_ERROR``.

    An odd rational of degrees 7 / 8, fitted minimax to ``tanh`` on [0, 8] and
    its float32 coefficients then nudged by a few ulps to lower the error as
    evaluated; exactly odd in IEEE arithmetic. No clamp: the caller keeps
    ``|x|`` within range (a float compare would stop GCC from vectorizing
    the loop under the default ``-ftrapping-math``)."""
    cdef float x2 = x * x
    cdef float p = x * (<float> 0.9999995827674866 + x2 * (<float> 0.129135861992836 + x2 * (
        <float> 0.0029387599788606167 + x2 * <float> 1.130929831560934e-05)))
    cdef float q = <float> 1.0 + x2 * (<float> 0.46246686577796936 + x2 * (<float> 0.02376357652246952 + x2 * (
        <float> 0.00023701768077444285 + x2 * <float> 2.423514047222852e-07)))
    return p / q


cdef inline double _grow(double m, double x) noexcept nogil:
    """``max(m, x)`` for ``x >= 0``, where a NaN or an infinity makes it infinite."""
    if not x <= m:
        m = x if x <= 1e300 else INFINITY
    return m


cdef inline double _float_max(int32_t bits) noexcept nogil:
    """The float32 with these bits, the largest of some ``<float> v`` for ``v >= 0`` (compared as
    integers: for non-negative floats the orders agree, and NaN's bits are above infinity's, so
    a NaN makes it NaN), raised to bound the unrounded ``v`` (rounding may have lowered it by 2^-24)."""
    cdef float x
    memcpy(&x, &bits, 4)
    return <double> x * (1.0 + 2.0 ** -22)


cdef class _Tables:
    """The encoder's arrays one step reads, as typed views (from the NumPy tables)."""

    cdef double[:, ::1] from_last, keys, context_map, cand_t
    cdef double[::1] from_start, log_add, score
    cdef double clip
    cdef object numpy_tables
    # The fast tier's float32 copies, rows padded with zeros to ``padded`` (a multiple of 8).
    # Each operator's key row (with its log_add * cand_t[0]) is made when first needed, in
    # fast_keys[u]; key_mag[u] is then its largest |key| + |log_add cand_t[0]| (-1 before).
    cdef bint fast_ok
    cdef int padded
    cdef float[:, ::1] fast_keys
    cdef double[::1] key_mag
    cdef float[::1] fast_c1, fast_c3, fast_score
    cdef double c1_max, c3_max, score_abs

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
        cdef int D = self.score.shape[0], d
        if self.context_map.shape[0] != _CONTEXT or self.context_map.shape[1] != D:
            raise ValueError(f"context_map has shape {np.shape(self.context_map)}, expected ({_CONTEXT}, {D})")
        self.padded = (D + 7) // 8 * 8
        self.fast_ok = 0 < D and self.padded <= _MAX_FAST and self.cand_t.shape[0] == 4 and 0.0 < self.clip < 1e300
        if not self.fast_ok:
            return
        rows = np.zeros((3, self.padded), dtype=np.float32)
        self.fast_c1, self.fast_c3, self.fast_score = rows[0], rows[1], rows[2]
        self.c1_max = self.c3_max = self.score_abs = 0.0
        for d in range(D):
            self.fast_c1[d] = <float> self.cand_t[1, d]
            self.fast_c3[d] = <float> self.cand_t[3, d]
            self.fast_score[d] = <float> self.score[d]
            self.c1_max = _grow(self.c1_max, fabs(self.cand_t[1, d]))
            self.c3_max = _grow(self.c3_max, fabs(self.cand_t[3, d]))
            self.score_abs += fabs(self.score[d])
        # (the other rows' finiteness is checked where they are used, through the magnitudes)
        self.fast_ok = self.c1_max < 1e30 and self.c3_max < 1e30 and self.score_abs < 1e30
        self.fast_keys = np.empty((self.keys.shape[0], self.padded), dtype=np.float32)
        self.key_mag = np.full(self.keys.shape[0], -1.0)


cdef double _fast_key(_Tables t, int64_t u) noexcept nogil:
    """Make operator ``u``'s float32 key row if not yet made; returns its ``key_mag``."""
    cdef int D = t.score.shape[0], d
    cdef double la, x
    cdef const double* key
    cdef const double* c0
    cdef float* row
    cdef float mag
    cdef int32_t bits, top = 0
    if t.key_mag[u] >= 0.0:
        return t.key_mag[u]
    key, c0, row, la = &t.keys[u, 0], &t.cand_t[0, 0], &t.fast_keys[u, 0], t.log_add[u]
    for d in range(D):
        x = la * c0[d]
        row[d] = <float> (key[d] + x)
        mag = <float> (fabs(key[d]) + fabs(x))
        memcpy(&bits, &mag, 4)
        top = top if top >= bits else bits
    for d in range(D, t.padded):
        row[d] = 0.0
    t.key_mag[u] = _float_max(top)
    return t.key_mag[u]


cdef void _query(_Tables t, int64_t last, const double* context, double* query) noexcept nogil:
    """The query row: context @ context_map plus the last operator's part (with the constant)."""
    cdef int D = t.score.shape[0], c, d
    cdef double x
    cdef const double* cmap
    cdef const double* row = &t.from_start[0] if last < 0 else &t.from_last[last, 0]
    for d in range(D):
        query[d] = 0.0
    for c in range(_CONTEXT):
        x, cmap = context[c], &t.context_map[c, 0]
        for d in range(D):
            query[d] += x * cmap[d]
    for d in range(D):
        query[d] += row[d]


cdef double _fast_queries(_Tables t, const double* query, float* rows) noexcept nogil:
    """The query as float32 rows (``rows[:padded]``; ``rows[padded:]`` plus ``cand_t[2]``, for
    operators that read the last one; the padding is left as it is, zeros); returns a bound on
    every ``|query_d| + |cand_t[2, d]|`` (NaN or infinite when one is)."""
    cdef int D = t.score.shape[0], d
    cdef const double* c2 = &t.cand_t[2, 0]
    cdef float* follows_rows = rows + t.padded  # (one pointer per row: the compiler then vectorizes)
    cdef float mag
    cdef int32_t bits, top = 0
    for d in range(D):
        rows[d] = <float> query[d]
        follows_rows[d] = <float> (query[d] + c2[d])
        mag = <float> (fabs(query[d]) + fabs(c2[d]))
        memcpy(&bits, &mag, 4)
        top = top if top >= bits else bits
    return _float_max(top)


cdef inline double _fast_bound(_Tables t, double m) noexcept nogil:
    """``E``, the bound on ``|fast sum - exact sum|`` of each operator of a step when ``m`` bounds
    its terms (module docstring); ``1e-9`` and ``1e-30`` cover the rounding of this expression
    and float32 underflow."""
    return (t.score_abs * (_FAST_TANH_ERROR + (t.padded // 8 + 5) * _U32 + 6.0 * _U32 * m + 2e-14 + 1e-15 * m)
            * (1.0 + 1e-9) + 1e-30)


cdef float _fast_sum(const float* query, const float* key, float a, const float* c1, float b,
                     const float* c3, const float* score, int P) noexcept nogil:
    """The fast tier's ``score . tanh(query + key + a c1 + b c3)`` in float32 (``P`` a multiple of 8)."""
    cdef float terms[_MAX_FAST]
    cdef float acc[8]
    cdef int d, j
    # simple loops the compiler vectorizes (float32: four lanes with SSE2); b is 0 for most
    # operators (no new peak), and dropping its term only drops a product that is exactly 0
    if b == 0.0:
        for d in range(P):
            terms[d] = _fast_tanh((query[d] + key[d]) + a * c1[d]) * score[d]
    else:
        for d in range(P):
            terms[d] = _fast_tanh((query[d] + key[d]) + (a * c1[d] + b * c3[d])) * score[d]
    # eight independent partial sums, then a pairwise tree: a reduction the compiler can vectorize
    # without reassociating (no -ffast-math), whose rounding the bound counts
    for j in range(8):
        acc[j] = terms[j]
    for d in range(8, P, 8):
        for j in range(8):
            acc[j] += terms[d + j]
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))


cdef inline double _tanh(double x) noexcept nogil:
    """``tanh(x)`` as ``1 - 2 / (exp(2x) + 1)``: within 2e-15 of it (absolute), about
    three times faster than libm's ``tanh``; infinities of ``exp`` give exactly +-1."""
    return 1.0 - 2.0 / (exp(2.0 * x) + 1.0)


cdef double _exact_sum(_Tables t, int64_t u, const double* query, const double* cand) noexcept nogil:
    """``score . tanh(query + key_u + cand @ cand_t)`` for one ready operator (the logit before its clip)."""
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
    return total


cdef inline double _logit(_Tables t, int64_t u, const double* query, const double* cand) noexcept nogil:
    """``clip * tanh(score . tanh(query + key_u + cand @ cand_t))`` for one ready operator."""
    return t.clip * tanh(_exact_sum(t, u, query, cand))


def fast_tanh_error(int64_t first, int64_t last, int64_t stride=1):
    """The largest ``|fast tanh(x) - tanh(x)|`` over the float32 ``x`` whose bit patterns
    (as unsigned 32-bit integers) are ``first, first + stride, ...`` up to ``last``; NaNs skipped."""
    cdef int64_t bits = first
    cdef uint32_t b32
    cdef float x
    cdef double worst = 0.0, err
    if stride < 1:
        raise ValueError("stride must be positive")
    with nogil:
        while bits <= last:
            b32 = <uint32_t> bits
            memcpy(&x, &b32, 4)
            bits += stride
            if x != x:
                continue
            if not fabs(x) <= _FAST_RANGE:
                continue
            err = fabs(<double> _fast_tanh(x) - tanh(<double> x))
            if err > worst:
                worst = err
    return worst


def greedy_order(inst, make_tables, fallback, double margin=MARGIN, *, bint fast=True, dict stats=None):
    """The greedy order of ``inst`` and how many steps ``fallback`` decided.

    ``make_tables()`` returns the NumPy path's ``_GreedyTables`` (called at
    the first step with a choice, never for a graph with one order);
    ``fallback(step, last, ready, freed, follows, live, peak, work, param)``
    is the NumPy step, called on near-ties (see the module docstring), and
    returns an index into ``ready``. ``fast=False`` skips the float32 fast
    tier (every step in the exact tier). A ``stats`` dict receives the counts
    ``choices`` (steps with a choice), ``exact`` (of those, steps the fast tier
    left to the exact tier) and ``fallbacks``; with ``stats["check"]`` true,
    also ``bound_use``: the largest ``|fast sum - exact sum| / bound`` over the
    operators of the steps the fast tier settled (the bound holds if below 1).
    """
    cdef Py_ssize_t n = inst.num_operators
    cdef int64_t[::1] ss, sf, ps, pf, is_, if_, rs, rf
    ss, sf = inst.succ_csr
    ps, pf = inst.pred_csr
    is_, if_ = inst.input_csr
    rs, rf = inst.read_csr
    cdef const double[::1] op_add = np.ascontiguousarray(inst.op_add, dtype=np.float64)
    cdef const double[::1] op_dead = np.ascontiguousarray(inst.op_dead, dtype=np.float64)
    cdef const double[::1] op_work = np.ascontiguousarray(inst.op_work, dtype=np.float64)
    cdef const double[::1] op_param = np.ascontiguousarray(inst.op_param, dtype=np.float64)
    cdef const double[::1] flow_size = np.ascontiguousarray(inst.flow_size, dtype=np.float64)
    waiting_arr = np.diff(np.asarray(ps))  # predecessors not yet run
    remaining_arr = np.empty(len(inst.flow_consumers), dtype=np.int64)  # readers not yet run
    cdef int64_t[::1] waiting = waiting_arr, remaining = remaining_arr
    ready_arr = np.empty(max(n, 1), dtype=np.int64)
    order_arr = np.empty(n, dtype=np.int64)
    # per ready slot: freed, follows, the logit (or the fast sum), and the candidate features
    # log1p(freed) and log1p(bytes over the peak)
    work_arr = np.empty((5, max(n, 1)), dtype=np.float64)
    # log1p(freed) per operator, reused while its freed bytes stay the same (most steps)
    seen_arr = np.full(max(n, 1), np.nan)
    seen_log_arr = np.zeros(max(n, 1))
    cdef int64_t[::1] ready = ready_arr, order = order_arr
    cdef double[:, ::1] scratch = work_arr
    cdef double[::1] seen = seen_arr, seen_log = seen_log_arr
    cdef Py_ssize_t nready = 0, step, i, j, best, slot
    cdef int64_t v, u, last = -1
    cdef int k = inst.k, P = 0
    cdef double live = inst.init_live, peak = 0.0, work = 0.0, param = 0.0
    cdef double init_dead = inst.init_dead, start_dead, total, step_bytes, turn_w, turn_p, top, second
    cdef double fixed_k = 1.0 / k, fixed_load = log1p(float(inst.params_load))
    cdef double freed, over, q_max, a_max, b_max, k_max, m, bound, use
    cdef double context[_CONTEXT]
    cdef double cand[4]
    query_arr = np.empty(64, dtype=np.float64)
    cdef double[::1] query = query_arr
    cdef float[::1] fast_query
    cdef _Tables tables = None
    cdef bint decided, check = stats is not None and bool(stats.get("check", False))
    cdef Py_ssize_t fallbacks = 0, choices = 0, exact = 0
    cdef double bound_use = 0.0
    for i, readers in enumerate(inst.flow_consumers):
        remaining[i] = len(readers)
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
            choices += 1
            if tables is None:
                tables = _Tables(make_tables())
                if tables.score.shape[0] > query.shape[0]:
                    query_arr = np.empty(tables.score.shape[0], dtype=np.float64)
                    query = query_arr
                fast = fast and tables.fast_ok
                if fast:
                    P = tables.padded
                    fast_query = np.zeros(2 * P, dtype=np.float32)
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
            _query(tables, last, context, &query[0])
            if fast:
                q_max = _fast_queries(tables, &query[0], &fast_query[0])
            best, top, second, a_max, b_max, k_max = 0, -1e300, -1e300, 0.0, 0.0, 0.0
            for i in range(nready):
                u = ready[i]
                freed = _freed(u, start_dead, op_dead, rs, rf, remaining, flow_size)
                scratch[0, i] = freed
                scratch[1, i] = 1.0 if _follows(ps, pf, u, last) else 0.0
                if not freed == seen[u]:  # (a NaN never equals the cache)
                    seen[u] = freed
                    seen_log[u] = log1p(freed)
                over = live + op_add[u] - peak
                scratch[3, i] = seen_log[u]
                scratch[4, i] = log1p(over) if over > 0.0 else 0.0  # log1p(0) is 0
                if fast:
                    k_max = _grow(k_max, _fast_key(tables, u))
                    scratch[2, i] = _fast_sum(&fast_query[P if scratch[1, i] else 0], &tables.fast_keys[u, 0],
                                              <float> scratch[3, i], &tables.fast_c1[0], <float> scratch[4, i],
                                              &tables.fast_c3[0], &tables.fast_score[0], P)
                    a_max = _grow(a_max, fabs(scratch[3, i]))
                    b_max = _grow(b_max, fabs(scratch[4, i]))
                else:
                    cand[0] = tables.log_add[u]
                    cand[1] = scratch[3, i]
                    cand[2] = scratch[1, i]
                    cand[3] = scratch[4, i]
                    scratch[2, i] = _logit(tables, u, &query[0], cand)
                if scratch[2, i] > top:
                    second, top, best = top, scratch[2, i], i
                elif scratch[2, i] > second:
                    second = scratch[2, i]
            decided = False
            if fast:
                # the fast tier decides when the exact tier's logits provably lead by more than margin
                m = q_max + k_max + a_max * tables.c1_max + b_max * tables.c3_max
                if m <= _FAST_RANGE * (1.0 - 1e-6):
                    bound = _fast_bound(tables, m)
                    decided = (tables.clip * (tanh(top - bound) - tanh(second + bound))
                               > margin + 1e-12 * tables.clip * (1.0 + tables.score_abs))
                    if decided and check:
                        for i in range(nready):
                            cand[0] = tables.log_add[ready[i]]
                            cand[1] = scratch[3, i]
                            cand[2] = scratch[1, i]
                            cand[3] = scratch[4, i]
                            use = fabs(scratch[2, i] - _exact_sum(tables, ready[i], &query[0], cand)) / bound
                            bound_use = use if use > bound_use else bound_use
                if not decided:
                    # the exact tier: the double-precision logits
                    exact += 1
                    best, top, second = 0, -1e300, -1e300
                    for i in range(nready):
                        cand[0] = tables.log_add[ready[i]]
                        cand[1] = scratch[3, i]
                        cand[2] = scratch[1, i]
                        cand[3] = scratch[4, i]
                        scratch[2, i] = _logit(tables, ready[i], &query[0], cand)
                        if scratch[2, i] > top:
                            second, top, best = top, scratch[2, i], i
                        elif scratch[2, i] > second:
                            second = scratch[2, i]
            else:
                exact += 1
            slot = best
            if not decided and not top - second > margin:
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
    if stats is not None:
        stats.update(choices=choices, exact=exact, fallbacks=fallbacks)
        if check:
            stats["bound_use"] = bound_use
    return tuple(order_arr.tolist()), fallbacks
