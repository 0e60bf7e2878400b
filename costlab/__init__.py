"""costlab: offline LLM cost analysis and optimisation over your own request logs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from costlab.api import Costlab

__version__ = "0.1.0"


def open(path: str | Path = "costlab.duckdb", config: str | Path | None = None) -> Costlab:
    """The store at `path` as a Python object whose methods mirror the commands (pandas
    DataFrames out): see costlab.api. Imported on first use, so `costlab --help` stays light."""
    from costlab import api

    return api.open(path, config)
