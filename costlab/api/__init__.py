"""costlab as a Python library: `costlab.open(path)` and the same answers as the commands,
as pandas DataFrames (costlab.api.handle, costlab.api.results)."""

from __future__ import annotations

from pathlib import Path

from costlab.api.handle import Costlab
from costlab.api.results import (
    CacheResult,
    IntentsResult,
    PlanResult,
    ReportResult,
    RoutingResult,
)

__all__ = [
    "CacheResult",
    "Costlab",
    "IntentsResult",
    "PlanResult",
    "ReportResult",
    "RoutingResult",
    "open",
]


def open(path: str | Path = "costlab.duckdb", config: str | Path | None = None) -> Costlab:
    """The store at `path` (made by `costlab ingest`), its settings from `config` (else
    ./costlab.toml, else pyproject.toml), as the commands read them."""
    return Costlab(path, config)
