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
so the same graph always gives the same order. Computation is in float64
(weights are stored as float32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .problem import Instance, OrderState


@dataclass(frozen=True)
class Weights:
    """The network's arrays (names as in the PyTorch ``state_dict``) and its shape."""

    arrays: Mapping[str, np.ndarray]
    hidden: int
    layers: int
    clip: float

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


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
    """Run the encoder on one instance."""
    n = inst.num_operators
    h = inst.node_features @ w["enc_in.weight"].T + w["enc_in.bias"]
    src = np.fromiter((u for ps in inst.preds for u in ps), dtype=np.int64)
    dst = np.fromiter((v for v, ps in enumerate(inst.preds) for _ in ps), dtype=np.int64)
    indeg = np.maximum(np.bincount(dst, minlength=n), 1)[:, None]
    outdeg = np.maximum(np.bincount(src, minlength=n), 1)[:, None]
    for layer in range(w.layers):
        p = f"layers.{layer}."
        from_preds = np.zeros_like(h)
        np.add.at(from_preds, dst, h[src])
        from_succs = np.zeros_like(h)
        np.add.at(from_succs, src, h[dst])
        pre = (h @ w[p + "self_.weight"].T + w[p + "self_.bias"]
               + (from_preds / indeg) @ w[p + "pred.weight"].T
               + (from_succs / outdeg) @ w[p + "succ.weight"].T
               + h.mean(axis=0) @ w[p + "glob.weight"].T)
        h = h + np.maximum(pre, 0.0)
    mean = h.mean(axis=0)
    d = w.hidden
    ctx = w["ctx.weight"]
    return Encoding(h=h, mean=mean, keys=h @ w["key.weight"].T, from_last=h @ ctx[:, :d].T,
                    from_start=ctx[:, :d] @ w["start"], constant=ctx[:, d:2 * d] @ mean + w["ctx.bias"],
                    context_map=ctx[:, 2 * d:].T.copy())


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


def load_weights(npz_path, config: Mapping) -> Weights:
    """Read the arrays of a saved policy (``.npz``) with its JSON ``config``."""
    with np.load(npz_path) as data:
        arrays = {name: data[name].astype(np.float64) for name in data.files}
    return Weights(arrays, int(config["hidden"]), int(config["layers"]), float(config["clip"]))
