"""The plan as one result: per lever its stacked and standalone saving, risk and notes; the
logged and after totals with their interval; the ranking; the files emitted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

Status = Literal["applied", "skipped"]


@dataclass(frozen=True)
class Risk:
    """A lever's risk in its own terms, and the score the ranking divides by."""

    measure: str  # e.g. "hit precision", "Δ quality (95 % CI)"
    value: str  # for people, e.g. "97.1 % (estimated from responses)"
    score: float  # share of answers that may change or get worse (0: none)
    estimated_share: float  # share of the requests it touches whose figure is an estimate


@dataclass(frozen=True)
class Step:
    lever: str
    status: Status
    saved_usd: Decimal  # stacked: what it saves after the levers before it
    standalone_saved_usd: Decimal | None  # alone on the logged traffic (its command's figure)
    share_of_spend: float  # stacked saving ÷ logged spend
    monthly_saved_usd: Decimal  # stacked, at the window's volume per 30 days
    requests: int  # requests whose cost the step changed
    risk: Risk | None
    action: str  # what to change, in one line
    setting: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    requests: int
    unpriced: int
    days: float  # the window the volume comes from
    logged_usd: Decimal
    after_usd: Decimal
    after_usd_ci: tuple[Decimal, Decimal] | None
    steps: list[Step]
    ranking: list[str]  # levers by stacked saving per unit of risk
    first: str | None  # the one-line "do this first"
    resamples: int
    seed: int
    emitted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stages_s: dict[str, float] = field(default_factory=dict)  # where the time went

    def as_dict(self) -> dict[str, Any]:
        """For --json: money as exact decimal strings."""
        data: dict[str, Any] = _plain(asdict(self))
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
