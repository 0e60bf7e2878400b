"""Counts against the baseline and the budgets: a verdict and its reasons, per template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from costlab.tokens.baseline import Entry
from costlab.tokens.policy import Rule

Status = Literal["unchanged", "grown", "shrunk", "new", "removed"]
Verdict = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Counted:
    """One template's count now, the rule it is held to, and its model's input price."""

    id: str
    tokens: int
    rule: Rule  # with its encoding resolved
    usd_per_token: Decimal | None = None  # input price of the rule's model


@dataclass(frozen=True)
class Usage:
    """A template's logged traffic: calls per month, and the input price they pay per token."""

    monthly_calls: Decimal
    usd_per_token: Decimal | None  # call-weighted; None when a model has no known price


@dataclass(frozen=True)
class Row:
    """One template's line of the report."""

    id: str
    encoding: str
    baseline_tokens: int | None  # None: new
    tokens: int | None  # None: removed
    status: Status
    verdict: Verdict
    reasons: tuple[str, ...]
    usd_per_call: Decimal | None = None
    usage: Usage | None = None

    @property
    def delta(self) -> int:
        return (self.tokens or 0) - (self.baseline_tokens or 0)

    @property
    def delta_percent(self) -> Decimal | None:
        """Growth in percent of the baseline (None for new, removed and empty templates)."""
        if not self.baseline_tokens or self.tokens is None:
            return None
        return Decimal(self.delta * 100) / self.baseline_tokens

    @property
    def delta_usd_per_month(self) -> Decimal | None:
        """Δtokens × monthly calls × input price."""
        if self.usage is None or self.usage.usd_per_token is None or self.tokens is None:
            return None
        return self.delta * self.usage.monthly_calls * self.usage.usd_per_token


def compare(
    counted: Sequence[Counted],
    baseline: Mapping[str, Entry],
    warn_at: Decimal,
    usage: Mapping[str, Usage] | None = None,
) -> list[Row]:
    """A row per template, present or in the baseline, sorted by id."""
    usage = usage or {}
    rows = [_row(c, baseline.get(c.id), warn_at, usage.get(c.id)) for c in counted]
    present = {c.id for c in counted}
    rows += [
        Row(tid, e.encoding, e.tokens, None, "removed", "pass", ("removed: no longer found",))
        for tid, e in baseline.items()
        if tid not in present
    ]
    return sorted(rows, key=lambda r: r.id)


def _row(c: Counted, before: Entry | None, warn_at: Decimal, usage: Usage | None) -> Row:
    rule = c.rule
    checks: list[tuple[Verdict, str]] = []
    usd_per_call = None if c.usd_per_token is None else c.tokens * c.usd_per_token
    if before is None:
        status: Status = "new"
        checks.append(("pass", "new template"))
    else:
        delta = c.tokens - before.tokens
        status = "grown" if delta > 0 else "shrunk" if delta < 0 else "unchanged"
        if before.encoding != rule.encoding:
            checks.append(("pass", f"baseline counted with {before.encoding}"))
        if delta > 0 and rule.max_increase is not None:
            allowed = rule.max_increase.allowed(before.tokens)
            grew = f"grew {before.tokens:,} → {c.tokens:,} tokens ({_growth(delta, before.tokens)})"
            limit = f"the allowed +{rule.max_increase}"
            level, text = _against(delta, allowed, warn_at, f"{grew}, over {limit}", grew, limit)
            checks.append((level, text or grew))
        elif delta:
            checks.append(("pass", f"{before.tokens:,} → {c.tokens:,} tokens"))
    if rule.max_tokens is not None:
        now = f"{c.tokens:,} tokens"
        checks.append(
            _against(
                c.tokens, rule.max_tokens, warn_at,
                f"{now}, over the budget of {rule.max_tokens:,}", now,
                f"the budget of {rule.max_tokens:,}",
            )
        )  # fmt: skip
    if rule.max_usd_per_call is not None and usd_per_call is not None:
        cost = f"${usd_per_call:.6f} per call at {rule.model}"
        budget = f"the budget of ${rule.max_usd_per_call} per call"
        checks.append(
            _against(
                usd_per_call, rule.max_usd_per_call, warn_at, f"{cost}, over {budget}", cost, budget
            )
        )
    levels = {v for v, _ in checks}
    verdict: Verdict = "fail" if "fail" in levels else "warn" if "warn" in levels else "pass"
    reasons = tuple(text for v, text in checks if text and (v != "pass" or verdict == "pass"))
    base_tokens = None if before is None else before.tokens
    return Row(c.id, rule.encoding or "", base_tokens, c.tokens, status, verdict, reasons,
               usd_per_call, usage)  # fmt: skip


def _against(
    value: Decimal | int, limit: Decimal | int, warn_at: Decimal, over: str, what: str, name: str
) -> tuple[Verdict, str]:
    if value > limit:
        return "fail", over
    if limit and value >= warn_at * limit:
        return "warn", f"{what}, near {name}"
    return "pass", ""


def _growth(delta: int, baseline_tokens: int) -> str:
    if not baseline_tokens:
        return f"+{delta:,}"
    return f"+{delta:,}, +{Decimal(delta * 100) / baseline_tokens:.1f}%"
