"""The price catalogue: model names resolved to dated price points, and the SQL that prices calls.

The catalogue ships as `costlab/data/prices.json`, derived from LiteLLM's price list by
`scripts/build_prices.py`. `costlab prices import FILE` converts a newer LiteLLM list into the
user catalogue (`$XDG_CONFIG_HOME/costlab/prices.json`, default `~/.config/costlab/prices.json`),
which, when present, replaces the shipped one. Catalogue prices hold since 1970-01-01; a config
override (`PriceOverride`) adds prices from its own date on and replaces all of the model's
prices (tiers and batch included) for requests on or after that date.

Fallbacks, applied per price point: a missing cache-read or cache-write price bills those tokens
at the point's input price (a 1-hour write falls back to the 5-minute write first), and the
cost's `price_note` says so. Batch points take LiteLLM's `*_batches` prices, else the standard
ones; a separate reasoning price applies to standard base-tier requests only. Prices are exact
decimals (at most 18 decimal places); a model that is not in the catalogue costs NULL, never $0.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import BadInput, ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

SHIPPED_CATALOGUE = Path(__file__).parent / "data" / "prices.json"
CATALOGUE_SINCE = date(1970, 1, 1)
# Price fields of a point, in column order; the catalogue file uses the same names.
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h", "reasoning")
# Catalogue fields that have a `batch_` variant.
BATCH_FIELDS = ("input", "output", "cache_read", "cache_write_5m")

_SNAPSHOT = re.compile(r"[-@](?:\d{4}-\d{2}-\d{2}|\d{8})(?:-v\d+(?::\d+)?)?$")
_VERSION_DOT = re.compile(r"(?<=\d)\.(?=\d)")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RECREATE = "re-create the catalogue with `costlab prices import FILE`"


def user_catalogue_path() -> Path:
    """Where `costlab prices import` writes, and where a user catalogue is looked for."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "costlab" / "prices.json"


@dataclass(frozen=True)
class PricePoint:
    """Per-token USD prices of one model, from one date, for one prompt-size tier and mode."""

    model: str
    since: date
    above_tokens: int  # the tier applies to requests whose prompt is larger than this
    batch: bool
    input: Decimal | None
    output: Decimal | None
    cache_read: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None


@dataclass(frozen=True)
class PriceOverride:
    """A config-file price for one model and prompt-size tier, in force from `since`."""

    model: str
    since: date
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None
    batch_input: Decimal | None = None
    batch_output: Decimal | None = None
    batch_cache_read: Decimal | None = None
    above_tokens: int = 0


@dataclass(frozen=True)
class Resolution:
    """The catalogue name a logged model name resolves to (None: unknown), and why."""

    model: str | None
    provider: str | None
    note: str | None


@dataclass(frozen=True)
class ModelPrices:
    """Everything the catalogue knows about one model."""

    resolution: Resolution
    model: str
    provider: str | None
    mode: str | None
    max_input_tokens: int | None
    points: tuple[PricePoint, ...]


def _decimal(value: Any, model: str, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(
            f"price '{name}' of model '{model}' is not a decimal: {value!r}",
            _RECREATE,
        ) from None


def _entry_points(model: str, entry: dict[str, Any]) -> list[PricePoint]:
    """The catalogue's points for one model: base and tiers, standard and batch."""
    if not isinstance(entry, dict):
        raise ConfigError(f"catalogue entry of '{model}' is not an object", _RECREATE)
    tiers: list[dict[str, Any]] = entry.get("tiers", [])
    layers: list[tuple[int, dict[str, Any], dict[str, Any]]] = [(0, entry, {})]
    layers += [(int(tier["above_tokens"]), tier, entry) for tier in tiers]
    has_batch = any(_batch_view(layer) for _, layer, _ in layers)
    points = []
    for above, own, base in layers:
        for batch in (False, True) if has_batch else (False,):
            chain = [own, base]
            if batch:  # tier batch, tier, base batch, base
                chain = [_batch_view(own), own, _batch_view(base), base]
            prices = {
                name: _decimal(_first(chain, name), model, name)
                for name in PRICE_FIELDS
                if name != "reasoning"
            }
            reasoning = (
                None if batch or above else _decimal(entry.get("reasoning"), model, "reasoning")
            )
            points.append(
                PricePoint(model, CATALOGUE_SINCE, above, batch, reasoning=reasoning, **prices)
            )
    return points


def _batch_view(layer: dict[str, Any]) -> dict[str, Any]:
    return {name: layer[f"batch_{name}"] for name in BATCH_FIELDS if f"batch_{name}" in layer}


def _first(chain: Sequence[dict[str, Any]], name: str) -> Any:
    return next((layer[name] for layer in chain if layer.get(name) is not None), None)


def _override_points(override: PriceOverride) -> list[PricePoint]:
    o = override
    points = [
        PricePoint(
            o.model, o.since, o.above_tokens, False, o.input, o.output,
            o.cache_read, o.cache_write_5m, o.cache_write_1h, o.reasoning,
        )
    ]  # fmt: skip
    if o.batch_input is not None or o.batch_output is not None:
        points.append(
            PricePoint(
                o.model, o.since, o.above_tokens, True,
                o.batch_input if o.batch_input is not None else o.input,
                o.batch_output if o.batch_output is not None else o.output,
                o.batch_cache_read if o.batch_cache_read is not None else o.cache_read,
                o.cache_write_5m, o.cache_write_1h, None,
            )
        )  # fmt: skip
    return points


@dataclass
class Catalogue:
    """Model prices from one catalogue file plus config overrides."""

    entries: dict[str, dict[str, Any]]
    source: str
    source_date: str
    path: Path | None = None
    overrides: tuple[PriceOverride, ...] = ()
    _lower: dict[str, str] = field(init=False, repr=False)
    _resolved: dict[str, Resolution] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = list(self.entries) + [o.model for o in self.overrides]
        self._lower = {name.lower(): name for name in names}
        self._resolved = {}

    @classmethod
    def load(cls, path: Path | None = None, overrides: Iterable[PriceOverride] = ()) -> Catalogue:
        """The catalogue at `path`, else the user catalogue when present, else the shipped one."""
        if path is None:
            user = user_catalogue_path()
            path = user if user.is_file() else SHIPPED_CATALOGUE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"price catalogue not found: {path}", "check the path, or leave it out"
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read price catalogue {path}: {exc}",
                "re-create it with `costlab prices import FILE`",
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ConfigError(
                f"{path} is not a costlab price catalogue (no 'models' object)",
                "re-create it with `costlab prices import FILE`",
            )
        return cls(
            entries=data["models"],
            source=str(data.get("source", "unknown")),
            source_date=str(data.get("source_date", "unknown")),
            path=path,
            overrides=tuple(overrides),
        )

    def resolve(self, logged_name: str) -> Resolution:
        """The catalogue model for a name as logged (memoised: called per distinct name)."""
        found = self._resolved.get(logged_name)
        if found is None:
            found = self._resolve(logged_name)
            self._resolved[logged_name] = found
        return found

    def _resolve(self, logged_name: str) -> Resolution:
        candidates = _candidates(logged_name.strip())
        for stripped, name in candidates:
            if key := self._lower.get(name.lower()):
                return self._found(key, stripped, None)
        for stripped, name in candidates:
            for base in _base_names(name):
                if key := self._lower.get(base.lower()):
                    note = f"'{name}' is not in the catalogue; priced as '{key}'"
                    return self._found(key, stripped, note)
        prefix = candidates[1][0] if len(candidates) > 1 else None
        note = f"unknown model '{logged_name}': not in the price catalogue, cost is NULL"
        return Resolution(None, prefix, note)

    def _found(self, key: str, stripped: str | None, note: str | None) -> Resolution:
        provider = self.entries.get(key, {}).get("provider")
        if stripped and provider and not str(provider).startswith(stripped) and note is None:
            note = f"no '{stripped}/' price for '{key}'; priced at {provider} rates"
        return Resolution(key, provider or stripped, note)

    def points(self, models: Iterable[str]) -> list[PricePoint]:
        """Every price point of these catalogue models (unknown names contribute none)."""
        points: list[PricePoint] = []
        for model in dict.fromkeys(models):
            if model in self.entries:
                points.extend(_entry_points(model, self.entries[model]))
            for override in self.overrides:
                if override.model == model:
                    points.extend(_override_points(override))
        return points

    def show(self, model: str) -> ModelPrices:
        """The prices of one model, resolved from a logged or catalogue name."""
        resolution = self.resolve(model)
        if resolution.model is None:
            raise BadInput(
                f"unknown model '{model}': not in the price catalogue ({self.source})",
                "find its name with `costlab prices list --search TEXT`, or add a price "
                "override in costlab.toml",
            )
        entry = self.entries.get(resolution.model, {})
        return ModelPrices(
            resolution=resolution,
            model=resolution.model,
            provider=resolution.provider,
            mode=entry.get("mode"),
            max_input_tokens=entry.get("max_input_tokens"),
            points=tuple(self.points([resolution.model])),
        )

    def models(self, provider: str | None = None, search: str | None = None) -> list[str]:
        """Model names, sorted; optionally only a provider (name prefix) and a name substring."""
        names = sorted(set(self.entries) | {o.model for o in self.overrides})
        if provider:
            wanted = provider.lower()
            names = [n for n in names if self._provider(n).startswith(wanted)]
        if search:
            text = search.lower()
            names = [n for n in names if text in n.lower()]
        return names

    def _provider(self, model: str) -> str:
        return str(self.entries.get(model, {}).get("provider") or "")


def _candidates(name: str) -> list[tuple[str | None, str]]:
    """The name, then the name with each leading `provider/` segment stripped."""
    candidates: list[tuple[str | None, str]] = [(None, name)]
    rest, first = name, None
    while "/" in rest:
        prefix, rest = rest.split("/", 1)
        first = first or prefix.lower()
        candidates.append((first, rest))
    if name.startswith("ft:") and name.count(":") >= 2:  # ft:BASE:org:suffix:id
        candidates.append((None, "ft:" + name.split(":")[1]))
    return candidates


def _base_names(name: str) -> list[str]:
    """Fallback names: a dated snapshot's base, `4.5` spelled `4-5`, a fine-tune's base."""
    names = [name.split(":")[1]] if name.startswith("ft:") else []
    for variant in dict.fromkeys([name, _VERSION_DOT.sub("-", name)]):
        base = _SNAPSHOT.sub("", variant)
        names.extend(n for n in (variant, base) if n != name)
    return list(dict.fromkeys(names))


def points_arrow(points: Iterable[PricePoint]) -> pa.Table:
    """Price points as an Arrow table with DECIMAL(38,18) prices, to register with DuckDB."""
    import pyarrow as pa

    money = pa.decimal128(38, 18)
    rows = list(points)
    columns: dict[str, pa.Array] = {
        "model": pa.array([p.model for p in rows], pa.string()),
        "since": pa.array([p.since for p in rows], pa.date32()),
        "above_tokens": pa.array([p.above_tokens for p in rows], pa.int64()),
        "batch": pa.array([p.batch for p in rows], pa.bool_()),
    }
    for name in PRICE_FIELDS:
        values = [getattr(p, name) for p in rows]
        columns[name] = pa.array([_money(v) for v in values], money)
    return pa.table(columns)


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("1e-18"))


def cost_sql(calls: str, points: str, chosen: str | None = None) -> str:
    """A DuckDB SELECT of (row_key, computed_cost_usd, each bucket's cost, price_note)."""
    # `chosen`: (row_key, the columns of `points`), the point in force already picked per call.
    _check_relations(calls, points, chosen or points)
    if chosen is None:
        return (
            f"SELECT row_key, computed_cost_usd, {_COST_COLUMNS} FROM ({priced_sql(calls, points)})"
        )
    costs = _BUCKET_COSTS.format(known="k.model IS NOT NULL", in_force="p.row_key IS NOT NULL")
    buckets = _CHOSEN_SQL.format(points=points, calls=calls, chosen=chosen, costs=costs)
    return f"SELECT row_key, {_TOTALS} FROM ({buckets})"


def priced_sql(calls: str, points: str) -> str:
    """A DuckDB SELECT of every column of `calls`, with each bucket's cost, the total and a note.

    `calls` needs model, ts, batch and the six token buckets. One streaming pass: each call picks
    its point in force from its model's few points, so there is no per-call sort or join back.
    """
    _check_relations(calls, points)
    costs = _BUCKET_COSTS.format(known="c.known_model", in_force="p.point_no IS NOT NULL")
    buckets = _PRICED_SQL.format(points=points, calls=calls, costs=costs)
    return f"SELECT * EXCLUDE ({_COST_COLUMNS}), {_TOTALS} FROM ({buckets})"


def _check_relations(*names: str) -> None:
    for name in names:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a relation name: {name!r}")


# The token counts of each call, zero when absent.
_COUNTS = """
    coalesce(uncached_input_tokens, 0)::BIGINT AS n_uncached,
    coalesce(cached_input_tokens, 0)::BIGINT AS n_cached,
    coalesce(cache_write_5m_tokens, 0)::BIGINT AS n_write_5m,
    coalesce(cache_write_1h_tokens, 0)::BIGINT AS n_write_1h,
    coalesce(output_tokens, 0)::BIGINT AS n_output,
    coalesce(reasoning_tokens, 0)::BIGINT AS n_reasoning
"""
_HELPERS = "n_uncached, n_cached, n_write_5m, n_write_1h, n_output, n_reasoning"

# A point is in force when its `since` is on or before the request's day (no day: the latest),
# its tier is the largest one below the prompt size, and batch points win for batch requests:
# the first of the model's points, latest first, then batch, then largest tier, that applies.
_PRICED_SQL = (
    """
WITH c AS (
    SELECT * REPLACE (coalesce(batch, false) AS batch), """
    + _COUNTS
    + """
    FROM {calls}
),
pts AS (SELECT row_number() OVER () AS point_no, * FROM {points}),
model_points AS (
    SELECT model, list(struct_pack(point_no, since, above_tokens, batch)
                       ORDER BY since DESC, batch DESC, above_tokens DESC) AS points
    FROM pts GROUP BY model
),
chosen AS (
    SELECT c.*, m.model IS NOT NULL AS known_model,
        list_filter(m.points, lambda pt: (c.ts IS NULL OR pt.since <= CAST(c.ts AS DATE))
            AND (pt.above_tokens = 0
                 OR pt.above_tokens < c.n_uncached + c.n_cached + c.n_write_5m + c.n_write_1h)
            AND (c.batch OR NOT pt.batch))[1].point_no AS point_no
    FROM c LEFT JOIN model_points m ON m.model = c.model
)
SELECT c.* EXCLUDE ("""
    + _HELPERS
    + """, known_model, point_no), {costs}
FROM chosen c
LEFT JOIN pts p ON p.point_no = c.point_no
"""
)

# Routing's path: the point in force already picked per call, joined on row_key.
_CHOSEN_SQL = (
    """
WITH c AS (
    SELECT row_key, model, ts, coalesce(batch, false) AS batch, """
    + _COUNTS
    + """
    FROM {calls}
),
known AS (SELECT DISTINCT model FROM {points})
SELECT c.row_key, {costs}
FROM c
LEFT JOIN {chosen} p ON p.row_key = c.row_key
LEFT JOIN known k ON k.model = c.model
"""
)

_BUCKET_COSTS = """
    c.n_uncached * p.input AS uncached_input_cost_usd,
    c.n_cached * coalesce(p.cache_read, p.input) AS cached_input_cost_usd,
    c.n_write_5m * coalesce(p.cache_write_5m, p.input)
        + c.n_write_1h * coalesce(p.cache_write_1h, p.cache_write_5m, p.input)
        AS cache_write_cost_usd,
    CASE WHEN c.n_output = 0 THEN 0
         WHEN p.reasoning IS NULL THEN c.n_output * p.output
         ELSE greatest(c.n_output - c.n_reasoning, 0) * p.output
              + c.n_reasoning * p.reasoning END AS output_cost_usd,
    c.n_reasoning * coalesce(p.reasoning, p.output) AS reasoning_cost_usd,
    CASE
    WHEN NOT ({known}) THEN 'unknown model: not in the price catalogue'
    WHEN NOT ({in_force}) THEN 'no price in force on ' || CAST(CAST(c.ts AS DATE) AS VARCHAR)
    ELSE nullif(concat_ws('; ',
        CASE WHEN c.batch AND NOT p.batch THEN 'no batch price: priced at standard rates' END,
        CASE WHEN c.n_cached > 0 AND p.cache_read IS NULL
             THEN 'no cache-read price: cache reads priced at the input rate' END,
        CASE WHEN c.n_write_5m > 0 AND p.cache_write_5m IS NULL
             THEN 'no cache-write price: cache writes priced at the input rate' END,
        CASE WHEN c.n_write_1h > 0 AND p.cache_write_1h IS NULL
             THEN 'no 1h cache-write price: priced at the 5m write (else input) rate' END,
        CASE WHEN c.n_output > 0 AND p.output IS NULL
             THEN 'no output price: cost unknown' END), '')
    END AS price_note
"""

_COST_COLUMNS = (
    "uncached_input_cost_usd, cached_input_cost_usd, cache_write_cost_usd, output_cost_usd, "
    "reasoning_cost_usd, price_note"
)
# The cost of each bucket, and their exact sum. Reasoning is a part of the output cost.
_TOTALS = """
    CAST(uncached_input_cost_usd + cached_input_cost_usd + cache_write_cost_usd + output_cost_usd
         AS DECIMAL(38, 18)) AS computed_cost_usd,
    CAST(uncached_input_cost_usd AS DECIMAL(38, 18)) AS uncached_input_cost_usd,
    CAST(cached_input_cost_usd AS DECIMAL(38, 18)) AS cached_input_cost_usd,
    CAST(cache_write_cost_usd AS DECIMAL(38, 18)) AS cache_write_cost_usd,
    CAST(output_cost_usd AS DECIMAL(38, 18)) AS output_cost_usd,
    CAST(reasoning_cost_usd AS DECIMAL(38, 18)) AS reasoning_cost_usd,
    price_note
"""
