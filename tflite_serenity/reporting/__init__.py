"""Where a model's memory goes, for people (text) and machines (JSON)."""

from .build import ArenaReport, Report, SubgraphReport, TensorSummary, TflmArena, build_report, report, subgraph_report
from .render import format_bytes, report_json, report_text

__all__ = [
    "ArenaReport", "Report", "SubgraphReport", "TensorSummary", "TflmArena",
    "build_report", "report", "subgraph_report", "format_bytes", "report_json", "report_text",
]
