"""Spend anomalies: spikes against a robust trailing baseline, flat histories, outliers."""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab import ingest, prices
from costlab.errors import BadInput
from costlab.ingest import IngestOptions, sources
from costlab.report import anomalies
from costlab.scope import Scope
from costlab.store import Store
from tests.conftest import flat, load

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
START = date(2026, 10, 1)
# About $1 a day with a little spread, so the MAD is not 0.
USUAL = [1.00, 1.10, 0.90, 1.05, 0.95]


def call(day: date, cost: float, feature: str | None = "chat", n: int = 0, **extra: Any) -> Any:
    """One flat request on `day` costing `cost`."""
    record = flat(
        0,
        request_id=f"{feature}-{day}-{n}",
        timestamp=f"{day}T12:{n % 60:02d}:00Z",
        cost=cost,
        feature=feature,
        **extra,
    )
    if feature is None:
        del record["feature"]
    return record


def day(i: int) -> date:
    return START + timedelta(days=i)


@pytest.fixture
def spiky(store: Store, catalogue: prices.Catalogue, tmp_path: Path) -> Store:
    """14 days of about $1 for chat and for feature-less calls, then one $10 chat day."""
    records = [call(day(i), USUAL[i % 5]) for i in range(14)]
    records += [call(day(i), USUAL[(i + 2) % 5], feature=None) for i in range(15)]
    records += [call(day(14), 4.0, n=1), call(day(14), 6.0, n=2)]
    load(store, catalogue, tmp_path, records)
    return store


def test_a_spike_is_flagged_with_its_ratio_and_z(spiky: Store) -> None:
    found = anomalies.find(spiky, Scope())
    assert [(d.day, d.feature) for d in found.days] == [(day(14), "chat")]
    spike = found.days[0]
    window = [Decimal(str(USUAL[i % 5])) for i in range(7, 14)]
    median = statistics.median(window)
    mad = statistics.median(abs(x - median) for x in window)
    assert spike.spend_usd == Decimal(10)
    assert spike.baseline_usd == median
    assert spike.mad_usd == mad
    assert spike.ratio == pytest.approx(10 / float(median))
    assert spike.z == pytest.approx((10 - float(median)) / (1.4826 * float(mad)))


def test_normal_days_are_not_flagged(spiky: Store) -> None:
    found = anomalies.find(spiky, Scope(until=day(13)))
    assert found.days == []
    assert found.z_threshold == anomalies.DEFAULT_Z
    assert "1.4826" in found.method and "7 days" in found.method


def test_a_lower_threshold_flags_more_and_a_higher_one_less(spiky: Store) -> None:
    assert anomalies.find(spiky, Scope(), z=1000).days == []
    assert len(anomalies.find(spiky, Scope(), z=0.5).days) > 1


def test_the_scope_filter_applies(spiky: Store) -> None:
    assert anomalies.find(spiky, Scope(where="feature IS NULL")).days == []


def test_a_flat_history_flags_only_a_material_rise(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = []
    for feature, last in (("steady", 1.5), ("doubled", 3.0), ("tiny", 0.009)):
        records += [call(day(i), 1.0 if feature != "tiny" else 0.001, feature) for i in range(10)]
        records.append(call(day(10), last, feature))
    load(store, catalogue, tmp_path, records)
    found = anomalies.find(store, Scope())
    # 1.5 is under twice the window's largest day; 0.009 is nine times 0.001 but under a cent.
    assert [d.feature for d in found.days] == ["doubled"]
    doubled = found.days[0]
    assert doubled.mad_usd == 0
    assert doubled.z == math.inf
    assert doubled.ratio == 3.0
    assert "MAD is 0" in found.method


def test_days_without_requests_count_as_zero(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    # Active on day 0, silent for a week, then $0.50: the week of $0 is its baseline.
    load(store, catalogue, tmp_path, [call(day(0), 1.0), call(day(8), 0.5)])
    found = anomalies.find(store, Scope())
    assert [(d.day, d.baseline_usd, d.ratio) for d in found.days] == [(day(8), 0, math.inf)]


def test_a_day_needs_three_days_of_history(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    records = [call(day(0), 1.0), call(day(1), 1.1), call(day(2), 50.0)]
    load(store, catalogue, tmp_path, records)
    assert anomalies.find(store, Scope()).days == []
    load(store, catalogue, tmp_path, [*records, call(day(3), 500.0)])
    assert [d.day for d in anomalies.find(store, Scope()).days] == [day(3)]


def test_outliers_cost_more_than_ten_times_the_feature_median(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path
) -> None:
    long_prompt = "Summarise the whole board pack, every appendix included, " * 5
    records = [call(day(0), 0.01, n=n) for n in range(20)]
    records += [
        call(day(0), 0.5, n=20, prompt=long_prompt),
        call(day(0), 0.2, n=21),
        call(day(0), 0.05, n=22),  # five times the median: not an outlier
        call(day(0), 0.002, "search", n=23),
        call(day(0), 0.002, "search", n=24),
        call(day(0), 0.003, "search", n=25),
    ]
    load(store, catalogue, tmp_path, records)
    found = anomalies.find(store, Scope())
    assert [(o.request_id, o.cost_usd) for o in found.outliers] == [
        (f"chat-{day(0)}-20", Decimal("0.5")),
        (f"chat-{day(0)}-21", Decimal("0.2")),
    ]
    top = found.outliers[0]
    assert top.feature_median_usd == Decimal("0.01")
    assert top.ratio == pytest.approx(50)
    assert top.prompt_start == long_prompt[:80]
    assert top.model == "gpt-4o-mini"
    assert [o.request_id for o in anomalies.find(store, Scope(), limit=1).outliers] == [
        top.request_id
    ]
    assert len(anomalies.find(store, Scope(), outlier_ratio=4).outliers) == 3


def test_a_window_shorter_than_the_minimum_history_is_refused(store: Store) -> None:
    with pytest.raises(BadInput, match="too short"):
        anomalies.find(store, Scope(), window_days=2)


def test_an_empty_store_has_no_anomalies(store: Store) -> None:
    found = anomalies.find(store, Scope())
    assert found.days == [] and found.outliers == []


def test_the_sample_logs_spike_is_flagged(store: Store, catalogue: prices.Catalogue) -> None:
    ingest.ingest(store, sources.expand([str(SAMPLES)]), IngestOptions(), catalogue)
    found = anomalies.find(store, Scope())
    spike = next(d for d in found.days if d.feature == "summarize")
    assert spike.day == date(2026, 11, 6)
    assert spike.spend_usd > Decimal("0.7")
    assert spike.ratio > 20
    assert found.days[0] == spike  # the biggest excess comes first
    assert all(d.day != date(2026, 11, 6) for d in found.days if d.feature != "summarize")
