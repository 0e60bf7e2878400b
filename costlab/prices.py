"""The price catalogue: model names resolved to dated price points (`costs` prices calls).

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
# A Bedrock cross-region inference profile (`us.anthropic.…`) falls back to its model id.
_PROFILE = re.compile(r"^(?:us|us-gov|eu|apac|jp|au|ca|global)\.(?=[a-z0-9-]+\.)")
# A Gemini stable version (`gemini-2.0-flash-001`) falls back to its model.
_GEMINI_VERSION = re.compile(r"^((?:[\w-]+/)?gemini-.+)-\d{3}$")
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
    """Fallback names: a dated snapshot's base, `4.5` spelled `4-5`, a fine-tune's base, a Bedrock
    profile's model id, a Gemini version's model."""
    names = [name.split(":")[1]] if name.startswith("ft:") else []
    for variant in dict.fromkeys([name, _VERSION_DOT.sub("-", name)]):
        base = _SNAPSHOT.sub("", variant)
        names.extend(n for n in (variant, base) if n != name)
    profile = _PROFILE.sub("", name)
    if profile != name:
        names.extend([profile, _SNAPSHOT.sub("", profile)])
    names.append(_GEMINI_VERSION.sub(r"\1", name))
    return [n for n in dict.fromkeys(names) if n != name]


def points_columns(points: Iterable[PricePoint]) -> dict[str, list[Any]]:
    """Price points column by column, prices as exact decimals with 18 places (or None)."""
    rows = list(points)
    columns: dict[str, list[Any]] = {
        "model": [p.model for p in rows],
        "since": [p.since for p in rows],
        "above_tokens": [p.above_tokens for p in rows],
        "batch": [p.batch for p in rows],
    }
    for name in PRICE_FIELDS:
        columns[name] = [_money(getattr(p, name)) for p in rows]
    return columns


def points_arrow(points: Iterable[PricePoint]) -> pa.Table:
    """Price points as an Arrow table with DECIMAL(38,18) prices, to register with DuckDB."""
    import pyarrow as pa

    columns = points_columns(points)
    types = {"model": pa.string(), "since": pa.date32(), "above_tokens": pa.int64()}
    types |= {"batch": pa.bool_()} | dict.fromkeys(PRICE_FIELDS, pa.decimal128(38, 18))
    return pa.table({name: pa.array(values, types[name]) for name, values in columns.items()})


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("1e-18"))
