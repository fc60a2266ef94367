"""The trained policy in NumPy alone: encode a graph, then pick ready operators one by one.

The network (its PyTorch twin for training is :mod:`.network`):

* **Encoder**, ``L`` message-passing layers over the DAG. ``h0 = W_in x``;
  each layer adds ``relu(W_self h + W_pred mean(h of predecessors) +
  W_succ mean(h of successors) + W_glob mean(h of all))`` to ``h``.
* **Decoder**, one step per operator. The query mixes the last operator's
  embedding (a learned start vector before the first), the graph's mean
  embedding and the state's context features (:meth:`OrderState.context`);
  each ready operator ``v`` scores ``w . tanh(q + W_key h_v + W_cand c_v)``
  with ``c_v`` its candidate features (:meth:`OrderState.candidates`), the
  score is clipped to ``clip * tanh(score)`` and operators that are not
  ready are masked out of the softmax.

Greedy decoding takes the highest score, ties to the lowest operator index,
so the same graph always gives the same order. The encoder computes in
float32 (as in training), the decoder in float64; the weights are stored
as float32.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import SerenityError
from .problem import Csr, Instance, OrderState


@dataclass(frozen=True)
class Weights:
    """The network's arrays (names as in the PyTorch ``state_dict``) and its shape."""

    arrays: Mapping[str, np.ndarray]
    hidden: int
    layers: int
    clip: float

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @functools.cached_property
    def float32(self) -> dict[str, np.ndarray]:
        """The encoder's matrices in float32, transposed for ``x @ W`` (built once).

        ``"key|last"`` stacks the key map and the last operator's part of the
        query map side by side: both are applied to the final embeddings."""
        out = {name: np.ascontiguousarray(a.T if a.ndim == 2 else a, dtype=np.float32)
               for name, a in self.arrays.items() if name.startswith(("enc_in.", "layers."))}
        last = self.arrays["ctx.weight"][:, :self.hidden]
        out["key|last"] = np.ascontiguousarray(np.hstack([self.arrays["key.weight"].T, last.T]), dtype=np.float32)
        return out


@dataclass(frozen=True)
class Encoding:
    """A graph's embeddings and the parts of the decoder that do not change between steps.

    The query's linear map splits into the last operator's part (``from_last``
    per operator, ``from_start`` before the first step), a constant part (the
    graph's mean embedding and the bias) and the context's part (``context_map``).
    """

    h: np.ndarray
    mean: np.ndarray
    keys: np.ndarray
    from_last: np.ndarray
    from_start: np.ndarray
    constant: np.ndarray
    context_map: np.ndarray


def encode(w: Weights, inst: Instance) -> Encoding:
    """Run the encoder on one instance.

    In float32, as the network was trained (half the time of float64 in the
    matrix products, which dominate); the embeddings it returns are float64,
    so that every later step is the same computation whatever the encoder's
    precision.
    """
    n = inst.num_operators
    f = w.float32
    h = inst.node_features.astype(np.float32) @ f["enc_in.weight"] + f["enc_in.bias"]
    preds, succs = _padded(inst.pred_csr, n), _padded(inst.succ_csr, n)
    in_scale = (1.0 / np.maximum(np.diff(inst.pred_csr.start), 1)).astype(np.float32)[:, None]
    out_scale = (1.0 / np.maximum(np.diff(inst.succ_csr.start), 1)).astype(np.float32)[:, None]
    for layer in range(w.layers):
        p = f"layers.{layer}."
        pre = h @ f[p + "self_.weight"]
        pre += f[p + "self_.bias"] + h.mean(axis=0) @ f[p + "glob.weight"]
        pre += (_neighbour_sum(h, preds) * in_scale) @ f[p + "pred.weight"]
        pre += (_neighbour_sum(h, succs) * out_scale) @ f[p + "succ.weight"]
        h += np.maximum(pre, 0.0, out=pre)
    d = w.hidden
    # keys and the last operator's part of the query: one product
    keys_last = (h @ f["key|last"]).astype(np.float64)
    h64 = h.astype(np.float64)
    mean = h64.mean(axis=0)
    ctx = w["ctx.weight"]
    return Encoding(h=h64, mean=mean, keys=keys_last[:, :d].copy(), from_last=keys_last[:, d:].copy(),
                    from_start=ctx[:, :d] @ w["start"], constant=ctx[:, d:2 * d] @ mean + w["ctx.bias"],
                    context_map=ctx[:, 2 * d:].T.copy())


def _padded(lists: Csr, n: int) -> np.ndarray:
    """Neighbour lists as an ``(n, max degree)`` index table, short rows padded with ``n``."""
    count = np.diff(lists.start)
    table = np.full((n, int(count.max(initial=0))), n, dtype=np.int64)
    column = np.arange(len(lists.flat)) - np.repeat(lists.start[:-1], count)
    table[np.repeat(np.arange(n), count), column] = lists.flat
    return table


def _neighbour_sum(h: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per row of ``table``, the sum of those rows of ``h`` (index ``n``: zeros).

    Added one column at a time, in the order of the lists: the same sums,
    rounding included, as accumulating edge by edge (``np.add.at``)."""
    padded = np.vstack([h, np.zeros((1, h.shape[1]), dtype=h.dtype)])
    if not table.shape[1]:
        return np.zeros_like(h)
    total = padded[table[:, 0]]
    for column in table.T[1:]:
        total += padded[column]
    return total


def step_log_probs(w: Weights, inst: Instance, enc: Encoding, state: OrderState) -> np.ndarray:
    """The log-probability of running each of ``state.ready`` (ascending) next."""
    ready = np.asarray(state.ready, dtype=np.int64)
    query = ((enc.from_start if state.last < 0 else enc.from_last[state.last]) + enc.constant
             + state.context(inst) @ enc.context_map)
    cand = state.candidates(inst, ready) @ w["cand.weight"].T
    score = np.tanh(query[None, :] + enc.keys[ready] + cand) @ w["score.weight"][0]
    logits = w.clip * np.tanh(score)
    top = logits.max()
    return logits - (top + np.log(np.exp(logits - top).sum()))


def decode(w: Weights, inst: Instance, *, rng: np.random.Generator | None = None,
           forced: tuple[int, ...] | None = None) -> tuple[tuple[int, ...], float]:
    """An order of the instance's operators and its total log-probability.

    Greedy by default; with ``rng``, sampled from the policy; with
    ``forced``, that order is followed (to score it).
    """
    enc = encode(w, inst)
    state = OrderState.start(inst)
    order: list[int] = []
    total = 0.0
    for t in range(inst.num_operators):
        ready = state.ready
        if len(ready) == 1:  # the only choice: probability 1, no need to score it
            if forced is not None and forced[t] != ready[0]:
                raise ValueError(f"operator {forced[t]} is not ready at step {t}")
            order.append(ready[0])
            state = state.update(inst, ready[0])
            continue
        logp = step_log_probs(w, inst, enc, state)
        if forced is not None:
            if forced[t] not in ready:
                raise ValueError(f"operator {forced[t]} is not ready at step {t}")
            i = ready.index(forced[t])
        elif rng is not None:
            i = int(rng.choice(len(ready), p=np.exp(logp) / np.exp(logp).sum()))
        else:
            i = int(np.argmax(logp))
        v = int(ready[i])
        total += float(logp[i])
        order.append(v)
        state = state.update(inst, v)
    return tuple(order), total


#: Two logits closer than this may fall together in the log-softmax (its rounding);
#: greedy decoding then takes the slow path that computes it as :func:`step_log_probs` does.
_NEAR_TIE = 1e-9


def greedy_order(w: Weights, inst: Instance, engine: str = "auto") -> tuple[int, ...]:
    """The greedy order of :func:`decode`, computed faster (the same order, always).

    ``engine``: ``"compiled"`` (the Cython decoder, :mod:`._decode`),
    ``"python"`` (:func:`greedy_order_numpy`) or ``"auto"`` (compiled when
    built, else Python). Both give the same order; the compiled one defers
    to the NumPy step wherever its logits could disagree.

    Raises
    ------
    SerenityError
        ``engine="compiled"`` when the extension is not built.
    """
    if engine not in ("auto", "compiled", "python"):
        raise ValueError(f"unknown engine {engine!r}")
    if engine == "python" or (engine == "auto" and compiled_decoder() is None):
        return greedy_order_numpy(w, inst)
    return greedy_order_compiled(w, inst)[0]


@functools.lru_cache(maxsize=1)
def compiled_decoder():
    """The Cython greedy decoder (:func:`._decode.greedy_order`), or None when it is not built."""
    try:
        from . import _decode
    except ImportError:
        return None
    return _decode.greedy_order


def greedy_order_compiled(w: Weights, inst: Instance, margin: float | None = None) -> tuple[tuple[int, ...], int]:
    """The greedy order by the compiled decoder, and how many steps fell back to NumPy.

    The encoder runs in NumPy (:class:`_GreedyTables`, only if some step has a
    choice); a step whose top two logits are within ``_decode.MARGIN`` is
    decided by :meth:`_GreedyTables.choose` on the same state, so the order
    is that of :func:`greedy_order_numpy` (the argument is in :mod:`._decode`).
    ``margin`` overrides that threshold (tests: ``inf`` sends every step with
    a choice to NumPy).

    Raises
    ------
    SerenityError
        When the extension is not built.
    """
    decoder = compiled_decoder()
    if decoder is None:
        raise SerenityError("the compiled learned decoder is not built; reinstall with 'pip install -e .'")
    n, k = inst.num_operators, inst.k
    fixed = [1.0 / k, math.log1p(inst.params_load)]
    made: list[_GreedyTables] = []

    def make_tables() -> _GreedyTables:
        made.append(_GreedyTables(w, inst))
        return made[0]

    def fallback(step, last, ready, freed, follows, live, peak, work, param) -> int:
        context = _context(step, n, k, live, peak, work, param, fixed)
        return made[0].choose(last, context, ready, freed, follows, live, peak)

    if margin is None:
        return decoder(inst, make_tables, fallback)
    return decoder(inst, make_tables, fallback, margin)


def _context(step: int, n: int, k: int, live: float, peak: float, work: float, param: float,
             fixed: list[float]) -> np.ndarray:
    """The context features of :meth:`OrderState.context`, from the greedy loop's state."""
    turn_w, turn_p = 2 * math.pi * k * work, 2 * math.pi * k * param
    return np.array([step / n, math.log1p(live), math.log1p(peak), work, math.sin(turn_w),
                     math.cos(turn_w), param, math.sin(turn_p), math.cos(turn_p)] + fixed)


def greedy_order_numpy(w: Weights, inst: Instance) -> tuple[int, ...]:
    """The greedy order of :func:`decode` in Python and NumPy (the reference of the compiled decoder).

    What makes it faster, without changing a number the choice depends on:

    * the state lives in plain lists and floats updated in place (no
      :class:`OrderState` per step), the ready operators in a sorted list;
    * the encoder runs only when some step first has a choice (a graph with
      one topological order needs none);
    * the query's part from the last operator plus its constant part is one
      row per operator, added up once (the same sum per element);
    * the candidate features are the same expressions, fed to the same
      products in the same shapes, so the logits are those of
      :func:`step_log_probs`; the log-softmax is skipped when one logit leads
      the others by more than its rounding could close (``_NEAR_TIE``), as
      subtracting one constant keeps the order of the rest.
    """
    n = inst.num_operators
    succs, op_inputs, op_reads = inst.succs, inst.op_inputs, inst.op_reads
    op_add, op_dead = inst.op_add, inst.op_dead
    op_work, op_param = inst.op_work.tolist(), inst.op_param.tolist()
    flow_size = inst.flow_size.tolist()
    preds = [set(ps) for ps in inst.preds]
    waiting = [len(ps) for ps in inst.preds]
    remaining = [len(c) for c in inst.flow_consumers]
    ready = [v for v in range(n) if not waiting[v]]
    live, peak, work, param = inst.init_live, 0.0, 0.0, 0.0
    k = inst.k
    fixed = [1.0 / k, math.log1p(inst.params_load)]
    tables = None
    order: list[int] = []
    last = -1
    for step in range(n):
        if len(ready) == 1:
            v = ready[0]
        else:
            if tables is None:
                tables = _GreedyTables(w, inst)
            context = _context(step, n, k, live, peak, work, param, fixed)
            start_dead = inst.init_dead if step == 0 else 0.0
            freed = []
            for u in ready:
                total = op_dead[u] + start_dead
                for f in op_reads[u]:
                    if remaining[f] == 1:
                        total += flow_size[f]
                freed.append(float(total))
            follows = [1.0 if last in preds[u] else 0.0 for u in ready]
            v = ready[tables.choose(last, context, ready, freed, follows, live, peak)]
        # run v: the same updates as OrderState.update
        start_dead = inst.init_dead if step == 0 else 0.0
        total = op_dead[v] + start_dead
        for f in op_reads[v]:
            if remaining[f] == 1:
                total += flow_size[f]
        ready.remove(v)
        for u in succs[v]:
            waiting[u] -= 1
            if waiting[u] == 0:
                bisect.insort(ready, u)
        for f in op_inputs[v]:
            remaining[f] -= 1
        step_bytes = live + op_add[v]
        live, peak = step_bytes - float(total), max(peak, step_bytes)
        work, param = work + op_work[v], param + op_param[v]
        last = v
        order.append(v)
    return tuple(order)


class _GreedyTables:
    """The arrays one greedy step reads, prepared once per instance."""

    def __init__(self, w: Weights, inst: Instance):
        self.w = w
        self.enc = encode(w, inst)
        self.from_last = self.enc.from_last + self.enc.constant
        self.from_start = self.enc.from_start + self.enc.constant
        self.op_add = inst.op_add
        self.log_add = np.log1p(inst.op_add)
        self.cand_t = w["cand.weight"].T
        self.score = w["score.weight"][0]

    def choose(self, last: int, context: np.ndarray, ready: list[int], freed: list[float],
               follows: list[float], live: float, peak: float) -> int:
        """Index into ``ready`` of the highest-scoring operator (ties: the first)."""
        w, enc = self.w, self.enc
        at = np.array(ready, dtype=np.int64)
        query = (self.from_start if last < 0 else self.from_last[last]) + context @ enc.context_map
        add = self.op_add[at]
        cand = np.empty((len(ready), 4))
        cand[:, 0] = self.log_add[at]
        cand[:, 1] = np.log1p(freed)
        cand[:, 2] = follows
        cand[:, 3] = np.log1p(np.maximum(live + add - peak, 0.0))
        score = np.tanh(query[None, :] + enc.keys[at] + cand @ self.cand_t) @ self.score
        logits = w.clip * np.tanh(score)
        best = int(np.argmax(logits))
        if np.count_nonzero(logits >= logits[best] - _NEAR_TIE) == 1:
            return best
        top = logits.max()
        return int(np.argmax(logits - (top + np.log(np.exp(logits - top).sum()))))


def load_weights(npz_path, config: Mapping) -> Weights:
    """Read the arrays of a saved policy (``.npz``) with its JSON ``config``."""
    with np.load(npz_path) as data:
        arrays = {name: data[name].astype(np.float64) for name in data.files}
    return Weights(arrays, int(config["hidden"]), int(config["layers"]), float(config["clip"]))
