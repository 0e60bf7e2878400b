"""Spend anomalies: days whose spend leaves a feature's robust trailing baseline, and outliers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# The seed article flags z > 2; the baseline is the median and MAD of the 7 days before.
DEFAULT_Z = 2.0
DEFAULT_WINDOW_DAYS = 7
# A request costing more than this many times its feature's median is an outlier.
DEFAULT_OUTLIER_RATIO = 10


@dataclass(frozen=True)
class DayAnomaly:
    """A day on which a feature spent far more (or less) than its trailing baseline."""

    day: date
    feature: str | None
    spend_usd: Decimal
    baseline_usd: Decimal  # median of the trailing window
    mad_usd: Decimal  # median absolute deviation of the trailing window
    z: float  # robust z-score: (spend - median) / (1.4826 * MAD); inf when MAD is 0
    ratio: float  # spend / baseline


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
