"""Reading answers: mentions, rank, sentiment and sources per answer, then the report.

Pure functions over text and numbers; nothing here does I/O or imports the engine, the API,
the providers or persistence.

The per-answer modules run compiled when `make install` has built them for the current
sources (native.py); `NATIVE` says whether this process uses that build.
"""

from diagnosis.analysis import native as _native

NATIVE = _native.enable(__path__)  # before the imports below: they may load the build

# ruff: noqa: E402
from diagnosis.analysis.extract import analyze_answer
from diagnosis.analysis.render_csv import render_csv
from diagnosis.analysis.render_html import render_html
from diagnosis.analysis.render_markdown import render_markdown
from diagnosis.analysis.report import ReportInput, ResultView, build_report, reads_answers
from diagnosis.analysis.schemas import BrandSpec

__all__ = [
    "NATIVE",
    "BrandSpec",
    "ReportInput",
    "ResultView",
    "analyze_answer",
    "build_report",
    "reads_answers",
    "render_csv",
    "render_html",
    "render_markdown",
]
