"""What the stacked steps need to know of a model once routed: its provider, its tokenizer, its
unit prices (latest standard base-tier point; cache prices the catalogue lacks filled from the
provider's prefix-cache rule, as simulate-prefix-cache does) and its batch input price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab import encodings, prices
from costlab.prefix import money, rules
from costlab.prefix.replay import UnitPrices
from costlab.routing.policy import Policy

TABLE = "_plan_tariffs"


@dataclass(frozen=True)
class Tariff:
    model: str
    provider: str | None
    encoding: str
    exact_tokens: bool  # the encoding is the model's own (else cl100k as an estimate)
    unit: UnitPrices | None  # None: no standard price known
    batch_input: Decimal | None  # None: no batch price


def tariffs(
    catalogue: prices.Catalogue,
    models: list[str],
    choice: rules.RuleChoice,
    policy: Policy | None = None,
) -> dict[str, Tariff]:
    """Per model name (as logged or as routed), its tariff."""
    out = {}
    for name in models:
        candidate = policy.models.get(name) if policy else None
        price_as = candidate.price_as if candidate else name
        resolution = catalogue.resolve(price_as)
        source = catalogue
        if candidate is not None and candidate.override is not None:
            source = prices.Catalogue({}, "policy", "", overrides=(candidate.override,))
            resolution = prices.Resolution(candidate.name, None, None)
        points = source.points([resolution.model]) if resolution.model else []
        rule = rules.rule_for(resolution.provider, name, choice)
        if rule is not None and points:
            filled = money.filled_points(source, {resolution.model or name: rules.RULES[rule]})
            points = filled or points
        units = money.unit_prices(points)
        wanted = encodings.encoding_for_model(price_as)
        exact = wanted is not None and encodings.available(wanted)
        out[name] = Tariff(
            name,
            resolution.provider,
            wanted if exact and wanted else encodings.DEFAULT_ENCODING,
            exact,
            units.get(resolution.model or ""),
            _batch_input(points),
        )
    return out


def _batch_input(points: list[prices.PricePoint]) -> Decimal | None:
    batch = [p for p in points if p.batch and not p.above_tokens and p.input is not None]
    return max(batch, key=lambda p: p.since).input if batch else None


def arrow(found: dict[str, Tariff]) -> Any:
    """The tariffs as a table to register: model, provider, encoding, prices, batch factor."""
    import pyarrow as pa

    money_type = pa.decimal128(38, 18)
    rows = list(found.values())

    def price(get: Any) -> Any:
        return pa.array([None if t.unit is None else get(t.unit) for t in rows], money_type)

    factor = [
        None
        if t.unit is None or t.batch_input is None or not t.unit.input
        else (t.batch_input / t.unit.input).quantize(Decimal("1e-18"))
        for t in rows
    ]
    return pa.table(
        {
            "model": pa.array([t.model for t in rows], pa.string()),
            "provider": pa.array([t.provider for t in rows], pa.string()),
            "encoding": pa.array([t.encoding for t in rows], pa.string()),
            "exact_tokens": pa.array([t.exact_tokens for t in rows], pa.bool_()),
            "input": price(lambda u: u.input),
            "read": price(lambda u: u.read),
            "write_5m": price(lambda u: u.write_5m),
            "write_1h": price(lambda u: u.write_1h),
            "batch_factor": pa.array(factor, money_type),
        }
    )
