"""Token counts checked against bills (`costlab tokens calibrate`, the report's calibration).

- Requests: those in scope with their messages logged and billed input tokens, at most `SAMPLE`
  per model chosen by a hash of the request id (the same ones every run); those the framing cannot
  count (`framing.frame`: tools, tool calls, images, ...) are excluded and counted by reason.
- Counted: the framed request (`framing`) with the model's own encoding where tiktoken knows it
  (exact: o200k_base, cl100k_base); for other models, its cl100k_base count times the family's
  table ratio (`families`), the estimate costlab makes without this measurement.
- Error: (counted - billed) / billed per request; the median, and the 95th percentile of its
  absolute value.
- Ratio: billed input tokens per cl100k_base token of the same framed request. Per model and per
  family: the median over the requests compared, with a 95 % confidence interval from order
  statistics (distribution-free: ranks n/2 ± 0.98·√n). Route-replay uses a family's measured
  ratio where at least `MIN_REQUESTS` of its requests were compared, else the table's, and says
  which (`Ratios.notes`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from costlab import encodings
from costlab.calibration import families, framing
from costlab.scope import Scope
from costlab.store import Store

SAMPLE = 1000
MIN_REQUESTS = 30
_CL100K = "cl100k_base"


@dataclass(frozen=True)
class Ratio:
    """Billed input tokens per cl100k token of one model or family, on the logged requests."""

    name: str
    median: float
    low: float  # 95 % confidence interval of the median
    high: float
    requests: int
    table: float

    @property
    def measured(self) -> bool:
        """Whether enough requests were compared for this ratio to replace the table's."""
        return self.requests >= MIN_REQUESTS


@dataclass(frozen=True)
class ModelCheck:
    """One model's counts against its bills."""

    model: str
    family: str | None
    encoding: str  # the encoding counted with (cl100k_base × the table ratio when not exact)
    exact: bool
    requests: int  # of this model in scope
    compared: int
    excluded: dict[str, int]  # reason -> requests
    median_error: float | None  # (counted - billed) / billed
    p95_abs_error: float | None
    median_error_tokens: float | None
    ratio: Ratio | None


@dataclass(frozen=True)
class Calibration:
    """Every model's check, the ratio per tokenizer family, and the settings behind them."""

    models: list[ModelCheck]
    families: list[Ratio]
    sample: int = SAMPLE
    min_requests: int = MIN_REQUESTS

    @property
    def compared(self) -> int:
        return sum(m.compared for m in self.models)


@dataclass(frozen=True)
class Ratios:
    """Tokens per cl100k token per family: measured on the logs where enough, else the table."""

    by_family: dict[str, Ratio] = field(default_factory=dict)

    def of(self, model: str) -> tuple[str | None, float]:
        """A model's family and the ratio route-replay uses for it."""
        family, table = families.tokenizer(model)
        found = self.by_family.get(family) if family else None
        return family, found.median if found is not None and found.measured else table

    def notes(self, models: Iterable[str]) -> list[str]:
        """One line per family of `models`: which ratio is used, and why."""
        lines = []
        for family in sorted({f for f in (families.tokenizer(m)[0] for m in models) if f}):
            table = families.TABLE[family]
            found = self.by_family.get(family)
            if found is not None and found.measured:
                lines.append(
                    f"{family}: {found.median:.3f} tokens per cl100k token, measured on "
                    f"{found.requests:,} logged requests (95% CI {found.low:.3f}–{found.high:.3f})"
                )
            else:
                n = found.requests if found else 0
                lines.append(
                    f"{family}: {table:g} tokens per cl100k token from the fixed table "
                    f"({n:,} requests compared; {MIN_REQUESTS} needed to measure it)"
                )
        return lines


@dataclass(frozen=True)
class _Request:
    model: str
    billed: int
    framed: framing.Framed


def calibrate(store: Store, scope: Scope | None = None, sample: int = SAMPLE) -> Calibration:
    """Each model's counts against its bills, and each family's measured ratio."""
    totals, excluded, requests = _load(store, scope or Scope(), sample)
    counts = _counts(requests)
    by_model: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for r, (own, cl100k) in zip(requests, counts, strict=True):
        by_model[r.model].append((r.billed, own, cl100k))
    checks = [_check(m, totals[m], excluded[m], by_model.get(m, [])) for m in sorted(totals)]
    pooled: dict[str, list[float]] = defaultdict(list)
    for m in checks:
        for billed, _, cl100k in by_model.get(m.model, []):
            if m.family is not None and cl100k:
                pooled[m.family].append(billed / cl100k)
    found = [_ratio(f, values, families.TABLE[f]) for f, values in sorted(pooled.items())]
    return Calibration(checks, [r for r in found if r is not None], sample)


def ratios(store: Store, sample: int = SAMPLE) -> Ratios:
    """The ratios route-replay uses, measured on the whole store."""
    return Ratios({r.name: r for r in calibrate(store, Scope(), sample).families})


def _load(
    store: Store, scope: Scope, sample: int
) -> tuple[dict[str, int], dict[str, Counter[str]], list[_Request]]:
    where, params = scope.sql()
    scoped = f"SELECT * FROM requests{where}"
    totals: dict[str, int] = {}
    excluded: dict[str, Counter[str]] = defaultdict(Counter)
    for model, n, no_messages, no_bill in store.rows(
        f"""SELECT coalesce(model, '(unknown)'), count(*),
                count(*) FILTER (WHERE messages IS NULL),
                count(*) FILTER (WHERE messages IS NOT NULL AND coalesce(input_tokens, 0) <= 0)
            FROM ({scoped}) GROUP BY ALL""",
        params,
    ):
        totals[model] = n
        excluded[model].update({"no messages logged": no_messages, "no billed input": no_bill})
    rows = store.rows(
        f"""SELECT model, input_tokens, format, system_prompt, CAST(messages AS VARCHAR),
                CAST(coalesce(json_extract(metadata, '$.tools'),
                              json_extract(metadata, '$.request.tools')) AS VARCHAR)
            FROM ({scoped})
            WHERE model IS NOT NULL AND messages IS NOT NULL AND input_tokens > 0
            QUALIFY row_number() OVER (PARTITION BY model ORDER BY hash(request_id), request_id)
                <= ?""",
        [*params, sample],
    )
    requests = []
    for model, billed, log_format, system_prompt, messages, tools in rows:
        framed = framing.frame(messages, system_prompt, tools, log_format)
        if isinstance(framed, str):
            excluded[model][framed] += 1
        else:
            requests.append(_Request(model, int(billed), framed))
    return totals, excluded, requests


def _counts(requests: list[_Request]) -> list[tuple[int, int]]:
    """Per request: costlab's count (exact, or cl100k x the table ratio), and its cl100k count."""
    own = {r.model: encodings.encoding_for_model(r.model) for r in requests}
    texts: dict[str, dict[str, int]] = defaultdict(dict)  # encoding -> text -> tokens
    for r in requests:
        for name in {own[r.model] or _CL100K, _CL100K}:
            texts[name].update(dict.fromkeys(r.framed.texts, 0))
    for name, table in texts.items():
        distinct = list(table)
        table.update(zip(distinct, encodings.load(name).count(distinct), strict=True))

    def framed(r: _Request, name: str) -> int:
        return r.framed.overhead + sum(texts[name][t] for t in r.framed.texts)

    out = []
    for r in requests:
        cl100k = framed(r, _CL100K)
        exact = own[r.model]
        counted = framed(r, exact) if exact else round(cl100k * families.tokenizer(r.model)[1])
        out.append((counted, cl100k))
    return out


def _check(
    model: str, requests: int, excluded: Counter[str], rows: list[tuple[int, int, int]]
) -> ModelCheck:
    own = encodings.encoding_for_model(model)
    family, table = families.tokenizer(model)
    errors = [(counted - billed) / billed for billed, counted, _ in rows]
    ratio = _ratio(model, [b / c for b, _, c in rows if c], table)
    return ModelCheck(
        model=model,
        family=family,
        encoding=own or f"{_CL100K} × {table:g}",
        exact=own is not None,
        requests=requests,
        compared=len(rows),
        excluded={k: n for k, n in excluded.items() if n},
        median_error=_median(errors),
        p95_abs_error=_percentile([abs(e) for e in errors], 95),
        median_error_tokens=_median([float(c - b) for b, c, _ in rows]),
        ratio=ratio,
    )


def _ratio(name: str, values: list[float], table: float) -> Ratio | None:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    spread = 0.98 * math.sqrt(n)
    low = ordered[max(0, math.floor(n / 2 - spread))]
    high = ordered[min(n - 1, math.ceil(n / 2 + spread) - 1)]
    return Ratio(name, _median(ordered) or 0.0, low, high, n, table)


def _median(values: list[float]) -> float | None:
    return _percentile(values, 50)


def _percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile, linear between ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    at = (len(ordered) - 1) * q / 100
    below = math.floor(at)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (at - below)
