"""Report as text for people and as JSON for machines."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..units import format_bytes
from .build import Report


def report_json(report: Report) -> dict[str, Any]:
    """JSON-ready dict: ``{"subgraphs": [{"index", "operators", "peak_bytes", "lower_bound_bytes", ...}], "tflm": ...,
    "arena": ..., "nested": ...}`` (``nested``: the peak with the subgraphs operators run, or None)."""
    out: dict[str, Any] = {
        "model_bytes": report.model_bytes,
        "subgraphs": [asdict(s) for s in report.subgraphs],
        "tflm": asdict(report.tflm) if report.tflm else None,
        "arena": asdict(report.arena) if report.arena else None,
        "nested": asdict(report.nested) if report.nested else None,
    }
    if report.tflm_error:
        out["tflm_error"] = report.tflm_error
    return out


def _row(label: str, value: str) -> str:
    """One labelled figure, values aligned in a column."""
    return f"  {label:<25}{value}"


def report_text(report: Report, *, name: str = "model", top: int = 8) -> str:
    """A page a person reads at a glance: per subgraph, the peak, the bound, and what fills the peak."""
    lines = [f"{name}: {format_bytes(report.model_bytes)}, {len(report.subgraphs)} subgraph(s)"]
    for s in report.subgraphs:
        title = f' "{s.name}"' if s.name else ""
        lines.append("")
        lines.append(f"subgraph {s.index}{title}: {s.operators} operators, {s.activation_tensors} activation tensors")
        lines.append(_row("weights", format_bytes(s.weights_bytes)))
        if s.variables_bytes:
            lines.append(_row("variables", format_bytes(s.variables_bytes)))
        at = f"at step {s.peak_step} ({s.peak_operator})" if s.operators else "(no operators)"
        lines.append(_row("peak, stored order", f"{format_bytes(s.peak_bytes)} {at}"))
        ratio = s.peak_bytes / s.lower_bound_bytes if s.lower_bound_bytes else 1.0
        lines.append(_row("lower bound, any order", f"{format_bytes(s.lower_bound_bytes)}  (peak is {ratio:.2f}x the bound)"))
        if s.inplace_operators and s.inplace_lower_bound_bytes < s.lower_bound_bytes:
            lines.append(_row("  with outputs in place", f"{format_bytes(s.inplace_lower_bound_bytes)}  "
                              f"({s.inplace_operators} ADD/SUB/MUL may write over a dying input; our arena plan "
                              "does that)"))
        if s.dynamic_tensors and s.dynamic_batch is not None:
            lines.append(f"  note: only the batch dimension is dynamic ({s.dynamic_tensors} tensor(s)); the figures "
                         f"are for batch {s.dynamic_batch}, the stored size, and grow with the batch")
        elif s.dynamic_tensors:
            lines.append(f"  warning: {s.dynamic_tensors} tensor(s) have dynamic shapes, not only in the batch "
                         "dimension; sized with their stored shape, so the figures hold only for that shape")
        if s.alive_at_peak:
            lines.append("  alive at the peak:")
            for t in s.alive_at_peak[:top]:
                shape = "x".join(str(d) for d in t.shape) or "scalar"
                lines.append(f"    {t.bytes:>12,} B  {t.dtype:<7} {shape:<16} #{t.index} {t.name}")
            if len(s.alive_at_peak) > top:
                rest = sum(t.bytes for t in s.alive_at_peak[top:])
                lines.append(f"    {rest:>12,} B  in {len(s.alive_at_peak) - top} more tensor(s)")
    if report.nested:
        lines.append("")
        lines.extend(_nested_lines(report))
    if report.arena:
        lines.append("")
        lines.extend(_arena_lines(report))
    lines.append("")
    if report.tflm:
        lines.append(
            f"TFLite Micro arena (measured): {format_bytes(report.tflm.total_bytes)} in all; "
            f"planned tensors (head) {format_bytes(report.tflm.head_bytes)}, "
            f"persistent (tail) {format_bytes(report.tflm.tail_bytes)}"
        )
        if report.tflm.tail_32bit_bytes is not None:
            lines.append(
                f"  on a 32-bit Cortex-M with CMSIS-NN (estimated, with margin): {format_bytes(report.tflm.device_bytes)}; "
                f"head {format_bytes(report.tflm.device_head_bytes)} with {report.tflm.device_kernels}'s scratch "
                f"buffers, tail {format_bytes(report.tflm.tail_32bit_bytes)}"
            )
            if report.tflm.tail_32bit_parts:
                lines.append("  what its tail holds (estimated):")
                lines.extend(f"    {b:>12,} B  {_TAIL_PARTS[name].format(n=n)}" for name, b, n in report.tflm.tail_32bit_parts)
    elif report.tflm_error:
        lines.append(f"TFLite Micro arena: not measured ({report.tflm_error})")
    return "\n".join(lines).rstrip() + "\n"


#: How the report names what TFLite Micro's tail holds (tflm.tail.PersistentCosts.parts).
_TAIL_PARTS = {
    "channels": "per-channel multipliers and shifts: {n:,} output channels of convolutions",
    "kernel data": "kernels' own data: {n:,} operators",
    "nodes": "nodes: {n:,} operators",
    "tensors": "tensor records: {n:,} tensors, constants included",
}


def _nested_lines(report: Report) -> list[str]:
    """Subgraph 0's peak with the subgraphs its operators run (loops, branches)."""
    n = report.nested
    lines = [
        "with the subgraphs operators run (stored orders):",
        _row("peak", f"{format_bytes(n.peak_bytes)} at step {n.peak_step} ({n.peak_operator}), "
                     f"{format_bytes(n.inner_bytes)} of it inside the subgraph run there"),
    ]
    if n.pinned_pairs:
        lines.append(_row("", f"copies of one value the offline plan pins together ({n.pinned_pairs} pairs) "
                              f"counted once; each in bytes of its own: {format_bytes(n.separate_bytes)}"))
    return lines


def _arena_lines(report: Report) -> list[str]:
    """The TFLite Micro arena head (all subgraphs, stored order): bound, our plan, its own plan."""
    a = report.arena

    def versus(n: int) -> str:
        return "at the lower bound" if n == a.lower_bound_bytes else f"{n / a.lower_bound_bytes:.2f}x the bound"

    def measured(n: int | None) -> str:
        return f", measured {format_bytes(n)}" if n is not None else ""

    proven = " (proven minimal)" if a.optimal and a.planned_bytes > a.lower_bound_bytes else ""
    lines = [
        "TFLite Micro arena head (all subgraphs, stored order):",
        _row("lower bound, this order", format_bytes(a.lower_bound_bytes)),
        _row("our plan", f"{format_bytes(a.planned_bytes)}  ({versus(a.planned_bytes)}){proven}"),
        _row("TFLite Micro greedy", f"{format_bytes(a.tflm_greedy_bytes)}  ({versus(a.tflm_greedy_bytes)}), "
                                    f"simulated{measured(a.measured_greedy_bytes)}"),
    ]
    if a.tflm_with_plan_bytes < a.tflm_greedy_bytes:
        lines.append(_row("with our plan", f"{format_bytes(a.tflm_with_plan_bytes)}, simulated"
                                          f"{measured(a.measured_with_plan_bytes)}"))
    if a.has_offline_plan:
        lines.append("  note: the model holds an offline plan; the figures above are without it")
        if a.stored_plan_bytes is not None:
            lines.append(_row("the model's own plan", f"{format_bytes(a.stored_plan_bytes)}, simulated"
                                                     f"{measured(a.measured_stored_plan_bytes)}"))
    return lines
