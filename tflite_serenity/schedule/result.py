"""What a search over one subproblem returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["optimal", "infeasible", "timeout", "truncated"]


@dataclass(frozen=True)
class SearchResult:
    """``optimal``: ``order`` has the lowest peak of all orders, given that one
    within the budget exists; ``infeasible``: none is within the budget;
    ``timeout``: the deadline passed first; ``truncated``: an order found with
    some levels cut to their best states, not proven. ``peak`` excludes the
    subproblem's offset; -1 when there is no order."""

    status: Status
    peak: int
    order: tuple[int, ...]
    states: int
