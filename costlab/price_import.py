"""LiteLLM's price list converted into a costlab price catalogue.

Used by `scripts/build_prices.py` (the shipped catalogue) and `costlab prices import FILE` (a
user catalogue from a newer LiteLLM list). Only token-priced text models are kept (modes chat,
completion, responses, embedding, with an input price per token). Each JSON number becomes
decimal text through `repr` (2.5e-06 -> "0.0000025"), never through float arithmetic; the few
values with float noise beyond 18 decimal places are rounded to 18. Priority, flex and 12-hour
cache prices, and audio/image/video prices, are left out.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import BadInput, ConfigError
from costlab.prices import BATCH_FIELDS

TEXT_MODES = frozenset({"chat", "completion", "responses", "embedding"})
# Catalogue field -> LiteLLM key stem; tiers add `_above_{N}k_tokens`, batch adds `_batches`.
_STEMS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write_5m": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
}
_REASONING = "output_cost_per_reasoning_token"
_TIER = re.compile(
    r"^(?:input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost(?:_above_1hr)?)_above_(\d+)k_tokens(?:_batches)?$"
)
_MAX_PLACES = Decimal("1e-18")


@dataclass(frozen=True)
class ImportResult:
    """What `import_litellm` wrote."""

    path: Path
    models: int
    skipped: int  # entries that are not token-priced text models
    source: str
    source_date: str  # ISO date: the day it was imported


def price_text(value: Any) -> str | None:
    """A LiteLLM price (a JSON number) as exact decimal text; None when absent or not a price."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    exact = Decimal(repr(value))
    if exact < 0:
        return None
    if exact.as_tuple().exponent < -18:  # type: ignore[operator]
        exact = exact.quantize(_MAX_PLACES)
    return format(exact.normalize(), "f")


def _layer(entry: dict[str, Any], suffix: str) -> dict[str, str]:
    """The standard and batch prices of one tier (`suffix` '' is the base)."""
    layer: dict[str, str] = {}
    for name, stem in _STEMS.items():
        if (value := price_text(entry.get(stem + suffix))) is not None:
            layer[name] = value
        batch = price_text(entry.get(stem + suffix + "_batches"))
        if name in BATCH_FIELDS and batch is not None:
            layer[f"batch_{name}"] = batch
    return layer


def convert_entry(entry: Any) -> dict[str, Any] | None:
    """One LiteLLM model entry as a catalogue entry, or None when it is not token-priced text."""
    if not isinstance(entry, dict) or entry.get("mode") not in TEXT_MODES:
        return None
    out: dict[str, Any] = {"provider": entry.get("litellm_provider"), "mode": entry["mode"]}
    out.update(_layer(entry, ""))
    if "input" not in out:
        return None
    out["reasoning"] = price_text(entry.get(_REASONING))
    thresholds = sorted({int(m[1]) for key in entry if (m := _TIER.match(key))})
    tiers = [{"above_tokens": k * 1000, **_layer(entry, f"_above_{k}k_tokens")} for k in thresholds]
    out["tiers"] = tiers or None
    max_input = entry.get("max_input_tokens")
    if isinstance(max_input, int) and not isinstance(max_input, bool):
        out["max_input_tokens"] = max_input
    return {key: value for key, value in out.items() if value is not None}


def convert(litellm: dict[str, Any], provenance: dict[str, str]) -> dict[str, Any]:
    """A whole LiteLLM price list as a catalogue document; `provenance` holds source, dates."""
    models = {}
    for name in sorted(litellm):
        if name != "sample_spec" and (entry := convert_entry(litellm[name])) is not None:
            models[name] = entry
    return {**provenance, "models": models}


def dumps(catalogue: dict[str, Any]) -> str:
    """Catalogue JSON with one model per line: small, and readable in a diff."""
    head = {key: value for key, value in catalogue.items() if key != "models"}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "models": {']
    items = list(catalogue["models"].items())
    for i, (name, entry) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(entry, separators=(',', ':'))}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def read_litellm(path: Path) -> tuple[dict[str, Any], str]:
    """A LiteLLM price list and the sha256 of its bytes."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"cannot read LiteLLM price list {path}: {exc}",
            "give the path of LiteLLM's model_prices_and_context_window.json",
        ) from None
    if not isinstance(data, dict):
        raise BadInput(
            f"{path} is not a LiteLLM price list (not a JSON object of models)",
            "give the path of LiteLLM's model_prices_and_context_window.json",
        )
    return data, hashlib.sha256(raw).hexdigest()


def import_litellm(
    path: Path, out: Path, *, source: str | None = None, source_date: str | None = None
) -> ImportResult:
    """Convert a LiteLLM price list at `path` into a catalogue file at `out`."""
    litellm, sha256 = read_litellm(path)
    provenance = {
        "source": source or f"LiteLLM price list {path.name}",
        "source_date": source_date or date.today().isoformat(),
        "source_date_is": "as given" if source_date else "import date",
        "source_sha256": sha256,
    }
    catalogue = convert(litellm, provenance)
    if not catalogue["models"]:
        raise BadInput(
            f"{path} holds no token-priced text models",
            "give the path of LiteLLM's model_prices_and_context_window.json",
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        partial.write_text(dumps(catalogue), encoding="utf-8")
        partial.replace(out)
    except OSError as exc:
        raise ConfigError(
            f"cannot write price catalogue {out}: {exc}", "choose another path with --out"
        ) from None
    skipped = sum(1 for name in litellm if name != "sample_spec") - len(catalogue["models"])
    return ImportResult(
        out, len(catalogue["models"]), skipped, provenance["source"], provenance["source_date"]
    )
