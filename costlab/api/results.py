"""What the API's methods return: the library's result with `.to_pandas()` and `.to_dict()`.

`.result` is the library's own frozen dataclass (money as exact Decimal); `.to_dict()` is what
the matching command prints with `--json` (decimals as strings, dates as ISO text, infinite
ratios as None); `.to_pandas()` is the table a notebook wants, money as float dollars.
"""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from typing import Any, Generic, TypeVar

import pandas as pd

from costlab import intents as intents_library
from costlab import report as report_library
from costlab.cache import savings
from costlab.plan import result as plan_result
from costlab.routing import run as routing_run

T = TypeVar("T")


def plain(value: Any) -> Any:
    """A result as the CLI writes it in JSON, read back: decimals as strings, no infinity."""
    return json.loads(json.dumps(_finite(value), default=_json_default))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def frame(rows: list[Any], columns: list[str] | None = None) -> pd.DataFrame:
    """Dataclass rows as a DataFrame; Decimal money as float dollars."""
    records = [_record(r) for r in rows]
    found = pd.DataFrame.from_records(records, columns=columns)
    for name in found.columns:
        if any(isinstance(v, Decimal) for v in found[name]):
            found[name] = [float("nan") if v is None else float(v) for v in found[name]]
    return found


def _record(row: Any) -> Any:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    return row


class Result(Generic[T]):
    """A library result, as a table for notebooks and as the CLI's JSON."""

    def __init__(self, result: T) -> None:
        self.result = result

    def to_pandas(self) -> pd.DataFrame:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = plain(dataclasses.asdict(self.result))  # type: ignore[call-overload]
        return found

    def _repr_html_(self) -> str:
        html: str = self.to_pandas()._repr_html_()
        return html

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>\n{self.to_pandas().to_string()}"


class CacheResult(Result[savings.CacheReport]):
    """simulate-cache: one row per threshold (`to_pandas`), the intents, the recommendation."""

    def to_pandas(self) -> pd.DataFrame:
        return frame(self.result.thresholds)

    @property
    def recommended_threshold(self) -> float | None:
        return self.result.recommended_threshold

    @property
    def intents(self) -> pd.DataFrame:
        return frame(self.result.intents)


class ReportResult(Result[report_library.Report]):
    """report: the breakdown asked for (`to_pandas`), the totals, the top requests."""

    def to_pandas(self) -> pd.DataFrame:
        breakdown = self.result.breakdowns[0]
        rows = [
            dict(zip(breakdown.dimensions, g.key, strict=True))
            | {k: v for k, v in dataclasses.asdict(g).items() if k != "key"}
            for g in breakdown.groups
        ]
        columns = [*breakdown.dimensions, "requests", "spend_usd", "share"]
        return frame(rows, [*columns, "input_tokens", "output_tokens"])

    @property
    def totals(self) -> dict[str, Any]:
        found: dict[str, Any] = plain(dataclasses.asdict(self.result.totals))
        return found

    @property
    def top(self) -> pd.DataFrame:
        return frame(self.result.top)


class RoutingResult(Result[routing_run.RouteReplay]):
    """route-replay: one row per policy (`to_pandas`), the rules, the frontier."""

    def to_pandas(self) -> pd.DataFrame:
        policies = self.result.comparison.policies if self.result.comparison else []
        drop = ("rules", "models", "notes", "savings_ci", "quality_delta_ci")
        return frame(
            [{k: v for k, v in dataclasses.asdict(p).items() if k not in drop} for p in policies]
        )

    @property
    def rules(self) -> pd.DataFrame:
        policies = self.result.comparison.policies if self.result.comparison else []
        return frame(
            [{"policy": p.name} | dataclasses.asdict(r) for p in policies for r in p.rules]
        )

    @property
    def frontier(self) -> pd.DataFrame:
        return frame(self.result.points)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = plain(self.result.as_json())
        return found


class IntentsResult(Result[intents_library.IntentsReport]):
    """intents: one row per listed recurring intent (`to_pandas`), the agreement with labels."""

    def to_pandas(self) -> pd.DataFrame:
        return frame(self.result.listed)

    @property
    def agreement(self) -> dict[str, Any] | None:
        found = self.result.agreement
        return dataclasses.asdict(found) if found else None


class PlanResult(Result[plan_result.Plan]):
    """plan: one row per lever (`to_pandas`), the totals and the ranking; `to_dict` is
    `costlab plan --json`."""

    def to_pandas(self) -> pd.DataFrame:
        rows = [
            {k: v for k, v in dataclasses.asdict(s).items() if k not in ("risk", "setting")}
            | {
                "risk": None if s.risk is None else f"{s.risk.measure}: {s.risk.value}",
                "rank": self.result.ranking.index(s.lever) + 1,
            }
            for s in self.result.steps
        ]
        return frame(rows)

    @property
    def totals(self) -> dict[str, Any]:
        """Logged and after spend (exact Decimals), the interval, the "do this first"."""
        p = self.result
        return {"logged_usd": p.logged_usd, "after_usd": p.after_usd,
                "after_usd_ci": p.after_usd_ci, "first": p.first}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return self.result.as_dict()
