"""How each provider caches prompt prefixes: one documented table of rules, overridable by name.

- `openai` (automatic): a request reads the longest prefix seen before, in lengths
  `min_tokens + k * increment_tokens`; an entry lives `idle_expiry_s` after its last use.
  Defaults: 1,024 tokens, 128-token increments, 300 s idle (OpenAI says 5 to 10 minutes, up to
  an hour off-peak: 300 s is the cautious end); no write premium; reads at the catalogue's
  cache-read price, else 0.5 x input.
- `anthropic` (breakpoint): the prompt up to an explicit breakpoint is cached when that prefix
  has at least `min_tokens` (`small_model_min_tokens`, 2,048, for Haiku models); a hit looks
  back up to `lookback_blocks` (20) earlier boundaries; a read refreshes the TTL. Writes at the
  catalogue's 5-minute / 1-hour write price, else 1.25 x / 2 x input; reads at the cache-read
  price, else 0.1 x input; TTL `ttl_5m_s` 300 s or `ttl_1h_s` 3,600 s.

The multipliers only stand in for a price the catalogue lacks. `--rule openai.idle_expiry_s=600`
(repeatable) overrides one field; an unknown rule or field is bad input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from costlab.errors import BadInput

RuleName = Literal["openai", "anthropic"]
RuleChoice = Literal["auto", "openai", "anthropic"]


@dataclass(frozen=True)
class Rule:
    """One provider's prefix-caching rule; lengths in tokens, times in seconds."""

    name: RuleName
    kind: Literal["automatic", "breakpoint"]
    min_tokens: int
    small_model_min_tokens: int  # breakpoint rules: models named in `small_models`
    increment_tokens: int  # automatic rules: cached lengths grow in these steps
    idle_expiry_s: float  # automatic rules: an entry unused this long is gone
    ttl_5m_s: float  # breakpoint rules: the two TTLs a write can choose
    ttl_1h_s: float
    lookback_blocks: int  # breakpoint rules: earlier boundaries checked for a hit
    read_multiplier: Decimal  # x input, when the catalogue has no cache-read price
    write_5m_multiplier: Decimal  # x input, when it has no cache-write price
    write_1h_multiplier: Decimal

    def min_for(self, model: str) -> int:
        """The smallest cacheable prefix for a model."""
        return self.small_model_min_tokens if "haiku" in model.lower() else self.min_tokens


RULES: dict[RuleName, Rule] = {
    "openai": Rule(
        name="openai", kind="automatic", min_tokens=1024, small_model_min_tokens=1024,
        increment_tokens=128, idle_expiry_s=300.0, ttl_5m_s=300.0, ttl_1h_s=3600.0,
        lookback_blocks=0, read_multiplier=Decimal("0.5"), write_5m_multiplier=Decimal(1),
        write_1h_multiplier=Decimal(1),
    ),
    "anthropic": Rule(
        name="anthropic", kind="breakpoint", min_tokens=1024, small_model_min_tokens=2048,
        increment_tokens=1, idle_expiry_s=300.0, ttl_5m_s=300.0, ttl_1h_s=3600.0,
        lookback_blocks=20, read_multiplier=Decimal("0.1"), write_5m_multiplier=Decimal("1.25"),
        write_1h_multiplier=Decimal(2),
    ),
}  # fmt: skip
_FIXED = {"name", "kind"}
# Providers whose traffic replays under a rule when --rules is auto; others keep their logged cost.
_PROVIDER_RULES: dict[str, RuleName] = {
    "openai": "openai",
    "azure": "openai",
    "azure_ai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
}


def rule_for(provider: str | None, model: str | None, choice: RuleChoice) -> RuleName | None:
    """The rule a request replays under: the chosen one, else its provider's (None: no rule)."""
    if choice != "auto":
        return choice
    name = (provider or "").lower()
    if name in _PROVIDER_RULES:
        return _PROVIDER_RULES[name]
    if "claude" in (model or "").lower():  # Bedrock and Vertex serve Claude with its own cache
        return "anthropic"
    return None


def smallest_prefix(table: dict[RuleName, Rule]) -> int:
    """The fewest tokens any rule of `table` caches for any model: a shorter prompt gets none."""
    return min(min(r.min_tokens, r.small_model_min_tokens) for r in table.values())


def with_overrides(overrides: list[str]) -> dict[RuleName, Rule]:
    """The rule table with `RULE.FIELD=VALUE` overrides applied; BadInput naming a bad one."""
    rules = dict(RULES)
    for text in overrides:
        key, sep, value = text.partition("=")
        rule_name, dot, field = key.strip().partition(".")
        if not sep or not dot:
            raise BadInput(
                f"--rule {text}: write RULE.FIELD=VALUE", "e.g. openai.idle_expiry_s=600"
            )
        if rule_name not in rules:
            raise BadInput(f"--rule {text}: unknown rule '{rule_name}'", f"rules: {_names()}")
        rule = rules[rule_name]
        fields = {f.name for f in dataclasses.fields(rule) if f.name not in _FIXED}
        if field not in fields:
            raise BadInput(
                f"--rule {text}: '{rule_name}' has no field '{field}'",
                f"fields: {', '.join(sorted(fields))}",
            )
        changes: dict[str, Any] = {field: _value(text, field, value)}
        rules[rule.name] = dataclasses.replace(rule, **changes)
    return rules


def _value(text: str, field: str, value: str) -> int | float | Decimal:
    try:
        if field.endswith("multiplier"):
            parsed: int | float | Decimal = Decimal(value.strip())
        elif field.endswith("_s"):
            parsed = float(value)
        else:
            parsed = int(value)
    except (ValueError, InvalidOperation):
        raise BadInput(f"--rule {text}: '{value}' is not a number") from None
    if parsed < 0 or (field == "increment_tokens" and parsed == 0):
        raise BadInput(f"--rule {text}: must be positive")
    return parsed


def _names() -> str:
    return ", ".join(RULES)
