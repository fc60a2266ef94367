"""The policy network in PyTorch, batched, for training (needs the ``[train]`` extra).

The same network and state transitions as :mod:`.infer` and
:class:`~.problem.OrderState`, on padded batches of instances. Each graph
gets one extra *dummy* operator (index ``N``, the padded size): it is the only
choice once the graph's own operators are all placed, so graphs of different
sizes decode together and the finished ones add exactly 0 to their
log-likelihood.

:meth:`PolicyNet.arrays` exports the weights under the names
:func:`.infer.load_weights` reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .problem import CANDIDATE_FEATURES, CONTEXT_FEATURES, NODE_FEATURES, Instance


@dataclass
class Batch:
    """Padded tensors of ``B`` instances (``N1`` = largest operator count + 1 for the dummy)."""

    x: torch.Tensor  # (B, N1, NODE_FEATURES)
    valid: torch.Tensor  # (B, N1) bool: a real operator
    n: torch.Tensor  # (B,) operators
    adj: torch.Tensor  # (B, N1, N1): adj[b, u, v] = 1 for an edge u -> v
    pred_mean: torch.Tensor  # (B, N1, N1): averages over predecessors
    succ_mean: torch.Tensor  # (B, N1, N1): averages over successors
    consumes: torch.Tensor  # (B, F, N1): consumes[b, f, v] = 1 when v reads flow f
    size: torch.Tensor  # (B, F)
    freeable: torch.Tensor  # (B, F): 1 unless pinned
    remaining: torch.Tensor  # (B, F): consumers
    op_add: torch.Tensor  # (B, N1)
    op_dead: torch.Tensor
    op_work: torch.Tensor
    op_param: torch.Tensor
    init_live: torch.Tensor  # (B,)
    init_dead: torch.Tensor
    k: torch.Tensor
    params_load: torch.Tensor


def collate(instances: Sequence[Instance]) -> Batch:
    """Pad instances into one :class:`Batch` (float32)."""
    b = len(instances)
    n1 = max(i.num_operators for i in instances) + 1
    f = max([len(i.flow_size) for i in instances] + [1])
    x = np.zeros((b, n1, NODE_FEATURES), np.float32)
    valid = np.zeros((b, n1), bool)
    adj = np.zeros((b, n1, n1), np.float32)
    consumes = np.zeros((b, f, n1), np.float32)
    size, freeable, remaining = (np.zeros((b, f), np.float32) for _ in range(3))
    op = {name: np.zeros((b, n1), np.float32) for name in ("op_add", "op_dead", "op_work", "op_param")}
    for j, inst in enumerate(instances):
        n = inst.num_operators
        x[j, :n] = inst.node_features
        valid[j, :n] = True
        for v, ps in enumerate(inst.preds):
            adj[j, list(ps), v] = 1.0
        for fl, cs in enumerate(inst.flow_consumers):
            consumes[j, fl, list(cs)] = 1.0
            remaining[j, fl] = len(cs)
        size[j, :len(inst.flow_size)] = inst.flow_size
        freeable[j, :len(inst.flow_size)] = ~inst.flow_pinned
        for name in op:
            op[name][j, :n] = getattr(inst, name)
    indeg = adj.sum(axis=1)
    outdeg = adj.sum(axis=2)
    pred_mean = np.transpose(adj, (0, 2, 1)) / np.maximum(indeg, 1)[:, :, None]
    succ_mean = adj / np.maximum(outdeg, 1)[:, :, None]
    t = torch.from_numpy
    return Batch(
        x=t(x), valid=t(valid), n=torch.tensor([i.num_operators for i in instances]),
        adj=t(adj), pred_mean=t(pred_mean.astype(np.float32)), succ_mean=t(succ_mean.astype(np.float32)),
        consumes=t(consumes), size=t(size), freeable=t(freeable), remaining=t(remaining),
        **{name: t(a) for name, a in op.items()},
        init_live=torch.tensor([i.init_live for i in instances], dtype=torch.float32),
        init_dead=torch.tensor([i.init_dead for i in instances], dtype=torch.float32),
        k=torch.tensor([i.k for i in instances], dtype=torch.float32),
        params_load=torch.tensor([i.params_load for i in instances], dtype=torch.float32),
    )


class _Layer(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.self_ = nn.Linear(hidden, hidden)
        self.pred = nn.Linear(hidden, hidden, bias=False)
        self.succ = nn.Linear(hidden, hidden, bias=False)
        self.glob = nn.Linear(hidden, hidden, bias=False)


class PolicyNet(nn.Module):
    """Encoder over the DAG and a pointer decoder over ready operators (see :mod:`.infer`)."""

    def __init__(self, hidden: int = 64, layers: int = 3, clip: float = 10.0):
        super().__init__()
        self.hidden, self.clip = hidden, clip
        self.enc_in = nn.Linear(NODE_FEATURES, hidden)
        self.layers = nn.ModuleList(_Layer(hidden) for _ in range(layers))
        self.ctx = nn.Linear(2 * hidden + CONTEXT_FEATURES, hidden)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.cand = nn.Linear(CANDIDATE_FEATURES, hidden, bias=False)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.start = nn.Parameter(torch.empty(hidden).uniform_(-1 / math.sqrt(hidden), 1 / math.sqrt(hidden)))

    def encode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        valid = batch.valid.float()[:, :, None]
        count = batch.n.float()[:, None]
        h = self.enc_in(batch.x)
        for layer in self.layers:
            mean = (h * valid).sum(dim=1) / count
            pre = (layer.self_(h) + layer.pred(batch.pred_mean @ h) + layer.succ(batch.succ_mean @ h)
                   + layer.glob(mean)[:, None, :])
            h = h + torch.relu(pre)
        mean = (h * valid).sum(dim=1) / count
        return h, mean

    def forward(self, batch: Batch, mode: str = "sample", forced: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode every graph of the batch.

        Returns ``(orders, log_likelihood)``: ``orders`` (B, N) holds each
        graph's order (the dummy index ``N`` after its end), ``log_likelihood``
        (B,) the sum of the chosen operators' log-probabilities. ``mode`` is
        ``"sample"``, ``"greedy"`` or ``"forced"`` (follow ``forced``, (B, N)).
        """
        h, mean = self.encode(batch)
        keys = self.key(h)
        bsz, n1, _ = h.shape
        dummy = n1 - 1
        rows = torch.arange(bsz)
        waiting = batch.adj.sum(dim=1)
        done = torch.zeros(bsz, n1, dtype=torch.bool)
        remaining = batch.remaining.clone()
        live = batch.init_live.clone()
        peak = torch.zeros(bsz)
        work = torch.zeros(bsz)
        param = torch.zeros(bsz)
        last = torch.full((bsz,), -1, dtype=torch.long)
        total = torch.zeros(bsz)
        orders = []
        for t in range(n1 - 1):
            finished = t >= batch.n
            ready = (waiting == 0) & ~done & batch.valid
            ready[:, dummy] = finished
            # candidate features
            dying = batch.size * batch.freeable * (remaining == 1).float()
            freed = torch.bmm(dying[:, None, :], batch.consumes)[:, 0, :] + batch.op_dead
            if t == 0:
                freed = freed + batch.init_dead[:, None]
            follows = batch.adj[rows, last.clamp(min=0)] * (last >= 0).float()[:, None]
            rise = torch.relu(live[:, None] + batch.op_add - peak[:, None])
            cand = torch.stack([torch.log1p(batch.op_add), torch.log1p(freed), follows, torch.log1p(rise)], dim=2)
            # context
            k = batch.k
            tw, tp = 2 * math.pi * k * work, 2 * math.pi * k * param
            context = torch.stack([
                t / batch.n.float(), torch.log1p(live), torch.log1p(peak),
                work, torch.sin(tw), torch.cos(tw), param, torch.sin(tp), torch.cos(tp),
                1.0 / k, torch.log1p(batch.params_load)], dim=1)
            prev = torch.where((last >= 0)[:, None], h[rows, last.clamp(min=0)], self.start.expand(bsz, -1))
            query = self.ctx(torch.cat([prev, mean, context], dim=1))
            score = self.score(torch.tanh(query[:, None, :] + keys + self.cand(cand)))[:, :, 0]
            logits = self.clip * torch.tanh(score)
            logits = logits.masked_fill(~ready, float("-inf"))
            logp = torch.log_softmax(logits, dim=1)
            if mode == "forced":
                action = forced[:, t]
            elif mode == "greedy":
                action = logp.argmax(dim=1)
            else:
                action = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
            total = total + logp[rows, action]
            orders.append(action)
            # transition (the dummy's rows and columns are zero, so it changes nothing)
            real = action != dummy
            add = batch.op_add[rows, action]
            step_bytes = live + add
            live = torch.where(real, step_bytes - freed[rows, action], live)
            peak = torch.where(real, torch.maximum(peak, step_bytes), peak)
            done = done.clone()
            done[rows, action] = real
            waiting = waiting - batch.adj[rows, action]
            remaining = remaining - batch.consumes[rows, :, action]
            work = work + batch.op_work[rows, action]
            param = param + batch.op_param[rows, action]
            last = torch.where(real, action, last)
        return torch.stack(orders, dim=1), total

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights as float32 arrays, named as :func:`.infer.load_weights` expects."""
        return {name: p.detach().cpu().numpy().astype(np.float32) for name, p in self.state_dict().items()}
