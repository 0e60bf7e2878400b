"""Spend anomalies: days whose spend leaves a feature's robust trailing baseline, and outliers.

A feature's daily spend runs from its first to its last day with a request in the scope; a day
in between without requests counts as $0. Each day is judged against the median and the median
absolute deviation (MAD) of the feature's previous `window_days` days, never including itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from costlab.errors import BadInput
from costlab.scope import Scope
from costlab.store import Store

# The seed article flags z > 2; the baseline is the median and MAD of the 7 days before.
DEFAULT_Z = 2.0
DEFAULT_WINDOW_DAYS = 7
# A request costing more than this many times its feature's median is an outlier.
DEFAULT_OUTLIER_RATIO = 10
# A day is judged only with at least this many days of history in its window.
MIN_BASELINE_DAYS = 3
# The MAD of a normal distribution is 0.6745 sigma: 1.4826 x MAD estimates sigma.
MAD_TO_SIGMA = 1.4826
# A flat history (MAD 0) has no spread to measure against: a day must at least double the
# window's largest day, and by a material amount, to be flagged.
FLAT_RISE = Decimal(2)
MATERIAL_USD = Decimal("0.01")
PROMPT_START_CHARS = 80


@dataclass(frozen=True)
class DayAnomaly:
    """A day on which a feature spent far more than its trailing baseline."""

    day: date
    feature: str | None
    spend_usd: Decimal
    baseline_usd: Decimal  # median of the trailing window
    mad_usd: Decimal  # median absolute deviation of the trailing window
    z: float  # robust z-score: (spend - median) / (1.4826 * MAD); inf when MAD is 0
    ratio: float  # spend / baseline; inf when the baseline is 0


@dataclass(frozen=True)
class RequestOutlier:
    """A request that cost far more than its feature's median request."""

    request_id: str
    ts: object  # datetime | None
    feature: str | None
    model: str | None
    cost_usd: Decimal
    feature_median_usd: Decimal
    ratio: float
    prompt_start: str | None


@dataclass(frozen=True)
class Anomalies:
    """What `costlab report anomalies` answers, with the settings that produced it."""

    days: list[DayAnomaly]
    outliers: list[RequestOutlier]
    z_threshold: float
    window_days: int
    outlier_ratio: float
    method: str  # one sentence for people


def find(
    store: Store,
    scope: Scope,
    *,
    z: float = DEFAULT_Z,
    window_days: int = DEFAULT_WINDOW_DAYS,
    outlier_ratio: float = DEFAULT_OUTLIER_RATIO,
    limit: int = 50,
) -> Anomalies:
    """Anomalous days per feature and the most expensive outlier requests in the scope."""
    if window_days < MIN_BASELINE_DAYS:
        raise BadInput(
            f"a window of {window_days} days is too short",
            f"a day is judged against at least {MIN_BASELINE_DAYS} days of history",
        )
    return Anomalies(
        days=spike_days(store, scope, z=z, window_days=window_days),
        outliers=outliers(store, scope, ratio=outlier_ratio, limit=limit),
        z_threshold=z,
        window_days=window_days,
        outlier_ratio=outlier_ratio,
        method=_method(z, window_days, outlier_ratio),
    )


def _method(z: float, window_days: int, outlier_ratio: float) -> str:
    return (
        f"A day is flagged when a feature's spend is more than {z:g} robust z-scores above "
        f"the median of its previous {window_days} days (z = (spend - median) / "
        f"({MAD_TO_SIGMA} x MAD), at least {MIN_BASELINE_DAYS} days of history, a day "
        f"without requests counts as $0), or, when the MAD is 0, when it is at least "
        f"{FLAT_RISE}x the window's largest day and ${MATERIAL_USD} above it; a request is an "
        f"outlier when it costs more than {outlier_ratio:g}x its feature's median request."
    )


_DAYS_SQL = """
WITH daily AS (
    SELECT feature, CAST(ts AS DATE) AS day, coalesce(sum(cost_usd), 0) AS spend
    FROM requests {where}
    GROUP BY ALL
    HAVING day IS NOT NULL
),
grid AS (
    SELECT feature,
           CAST(unnest(generate_series(min(day), max(day), INTERVAL 1 DAY)) AS DATE) AS day
    FROM daily GROUP BY feature
),
filled AS (
    SELECT g.feature, g.day, coalesce(d.spend, 0) AS spend,
           list(coalesce(d.spend, 0)) OVER (
               PARTITION BY g.feature ORDER BY g.day
               ROWS BETWEEN ? PRECEDING AND 1 PRECEDING) AS history
    FROM grid g LEFT JOIN daily d ON d.feature IS NOT DISTINCT FROM g.feature AND d.day = g.day
),
judged AS (
    SELECT feature, day, spend, history, list_median(history) AS median_usd,
           list_max(history) AS max_usd
    FROM filled WHERE len(history) >= ?
),
scored AS (
    SELECT feature, day, spend, median_usd, max_usd,
           list_median(list_transform(history, lambda x: abs(x - median_usd))) AS mad_usd
    FROM judged
)
SELECT day, feature, spend, median_usd, mad_usd FROM scored
WHERE (mad_usd > 0 AND CAST(spend - median_usd AS DOUBLE) / (? * CAST(mad_usd AS DOUBLE)) > ?)
   OR (mad_usd = 0 AND spend >= ? * max_usd AND spend - max_usd >= ?)
ORDER BY spend - median_usd DESC, day, feature
"""


def spike_days(store: Store, scope: Scope, *, z: float, window_days: int) -> list[DayAnomaly]:
    """Days whose spend is far above the feature's trailing median, biggest excess first."""
    where, params = scope.sql()
    rows = store.rows(
        _DAYS_SQL.format(where=where),
        [
            *params,
            int(window_days),
            MIN_BASELINE_DAYS,
            MAD_TO_SIGMA,
            float(z),
            FLAT_RISE,
            MATERIAL_USD,
        ],
    )
    return [_day(*row) for row in rows]


def _day(
    day: date, feature: str | None, spend: Decimal, median: Decimal, mad: Decimal
) -> DayAnomaly:
    z = float(spend - median) / (MAD_TO_SIGMA * float(mad)) if mad else math.inf
    ratio = float(spend / median) if median else math.inf
    return DayAnomaly(day, feature, spend, median, mad, z, ratio)


_OUTLIERS_SQL = """
WITH scoped AS (
    SELECT request_id, ts, feature, model, cost_usd, prompt FROM requests {where}
),
medians AS (
    SELECT feature, median(cost_usd) AS median_usd
    FROM scoped WHERE cost_usd IS NOT NULL GROUP BY feature
)
SELECT s.request_id, s.ts, s.feature, s.model, s.cost_usd, m.median_usd, left(s.prompt, ?)
FROM scoped s JOIN medians m ON s.feature IS NOT DISTINCT FROM m.feature
WHERE m.median_usd > 0 AND s.cost_usd > ? * m.median_usd
ORDER BY s.cost_usd DESC, s.request_id
LIMIT ?
"""


def outliers(store: Store, scope: Scope, *, ratio: float, limit: int) -> list[RequestOutlier]:
    """Requests costing more than `ratio` times their feature's median, dearest first."""
    where, params = scope.sql()
    rows = store.rows(
        _OUTLIERS_SQL.format(where=where),
        [*params, PROMPT_START_CHARS, Decimal(str(ratio)), int(limit)],
    )
    return [
        RequestOutlier(
            request_id=request_id,
            ts=ts,
            feature=feature,
            model=model,
            cost_usd=cost,
            feature_median_usd=median,
            ratio=float(cost / median),
            prompt_start=prompt_start,
        )
        for request_id, ts, feature, model, cost, median, prompt_start in rows
    ]
