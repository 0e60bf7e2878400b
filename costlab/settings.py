"""Configuration: `costlab.toml`, or `[tool.costlab]` in `pyproject.toml`. Flags win over the file.

Every default lives here. The file is validated strictly: a misspelt key is an error naming it.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from costlab.encodings import ENCODINGS
from costlab.errors import ConfigError
from costlab.prices import PriceOverride
from costlab.timestamps import duration_s as duration_s
from costlab.tokens.policy import Increase, Policy, Rule

if TYPE_CHECKING:
    # Imported when used: the reports pull in duckdb, and `tokens check` must start fast.
    from costlab.report.budgets import Budget

DEFAULT_DB = "costlab.duckdb"
DB_ENV = "COSTLAB_DB"
# Logged and computed cost "disagree" when they differ by more than both of these.
MISMATCH_RELATIVE = Decimal("0.01")
MISMATCH_ABSOLUTE_USD = Decimal("0.000001")
_PER_MILLION = Decimal(1_000_000)
DEFAULT_TOKENS_BASELINE = "costlab-tokens.json"
DEFAULT_MAX_INCREASE = "10%"
# No single LLM call bills more tokens than this in one bucket: a larger count is a broken record.
DEFAULT_MAX_TOKENS = 100_000_000
# The highest limit that may be configured: four input buckets of it still fit in a BIGINT.
MAX_TOKENS_CEILING = 10**15
# A template is warned about from this share of a limit (growth or budget) on.
DEFAULT_WARN_AT = Decimal("0.8")
# Metadata keys that name the template a logged call used, tried in this order.
DEFAULT_TEMPLATE_KEYS = ("template_id", "template", "prompt_template", "prompt_id")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(_Strict):
    """Defaults for `costlab ingest`."""

    map: dict[str, str] = Field(default_factory=dict)
    redact: bool = False
    no_text: bool = False
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, gt=0, le=MAX_TOKENS_CEILING)


class PriceSetting(_Strict):
    """A price in force from a date, in USD per 1M tokens (the unit price pages use)."""

    model: str
    since: date = date(1970, 1, 1)
    above_tokens: int = Field(default=0, ge=0)
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    reasoning: Decimal | None = Field(default=None, ge=0)
    batch_input: Decimal | None = Field(default=None, ge=0)
    batch_output: Decimal | None = Field(default=None, ge=0)
    batch_cache_read: Decimal | None = Field(default=None, ge=0)

    def per_token(self) -> PriceOverride:
        """The same price per token, exactly."""
        optional = self.model_dump(exclude={"model", "since", "above_tokens", "input", "output"})
        per_token = {k: None if v is None else v / _PER_MILLION for k, v in optional.items()}
        return PriceOverride(
            model=self.model,
            since=self.since,
            above_tokens=self.above_tokens,
            input=self.input / _PER_MILLION,
            output=self.output / _PER_MILLION,
            **per_token,
        )


class _TokenLimits(_Strict):
    """How templates are counted and the limits they are held to; unset keys inherit."""

    encoding: str | None = None
    model: str | None = None
    max_increase: str | int | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    max_usd_per_call: Decimal | None = Field(default=None, ge=0)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None and value not in ENCODINGS:
            raise ValueError(f"'{value}' is not one of {', '.join(ENCODINGS)}")
        return value

    @field_validator("max_increase")
    @classmethod
    def _increase(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            Increase.parse(str(value))
        return value

    def rule(self, glob: str = "*") -> Rule:
        increase = None if self.max_increase is None else Increase.parse(str(self.max_increase))
        return Rule(
            glob, self.encoding, self.model, increase, self.max_tokens, self.max_usd_per_call
        )


class TokenRuleSettings(_TokenLimits):
    """`[[tokens.rules]]`: settings for the templates whose id (path with `/`) matches a glob."""

    glob: str


class TokenSettings(_TokenLimits):
    """`[tokens]`: the templates `costlab tokens check` counts, its baseline and its limits."""

    paths: list[str] = Field(default_factory=list)
    baseline: str = DEFAULT_TOKENS_BASELINE
    vars: str | None = None
    max_increase: str | int | None = DEFAULT_MAX_INCREASE
    warn_at: Decimal = Field(default=DEFAULT_WARN_AT, gt=0, le=1)
    template_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_TEMPLATE_KEYS))
    rules: list[TokenRuleSettings] = Field(default_factory=list)

    @field_validator("template_keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not re.fullmatch(r"[\w-]+", key):
                raise ValueError(f"'{key}': a metadata key is letters, digits, _ and -")
        return value

    def policy(self) -> Policy:
        """The limits of the file: these defaults, then each rule."""
        return Policy(self.warn_at, self.rule(), tuple(r.rule(r.glob) for r in self.rules))


# Batch APIs promise results within this long (OpenAI and Anthropic: 24 hours).
BATCH_WINDOW = "24h"


class BatchSettings(_Strict):
    """Which features could go through a batch API (results within the window, at batch prices)."""

    # features that need no answer in real time
    non_interactive: list[str] = Field(default_factory=list)
    # feature -> how long its callers can wait ("24h"); eligible when it covers the window
    latency_budget: dict[str, str] = Field(default_factory=dict)
    window: str = BATCH_WINDOW

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        duration_s(value)
        return value

    @field_validator("latency_budget")
    @classmethod
    def _budgets(cls, value: dict[str, str]) -> dict[str, str]:
        for feature, text in value.items():
            try:
                duration_s(text)
            except ValueError as err:
                raise ValueError(f"{feature} = {err}") from None
        return value

    def eligible(self) -> dict[str, str]:
        """Batch-eligible features and why."""
        window = duration_s(self.window)
        found = dict.fromkeys(self.non_interactive, "non-interactive")
        for feature, text in self.latency_budget.items():
            if feature not in found and duration_s(text) >= window:
                found[feature] = f"latency budget {text.strip()}"
        return found


_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*USD\s*/\s*month\s*$", re.IGNORECASE)


class Settings(_Strict):
    """The whole configuration file."""

    db: str | None = None
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    prices: list[PriceSetting] = Field(default_factory=list)
    # feature (or "*" for all spend) -> "500 USD/month"
    budgets: dict[str, str] = Field(default_factory=dict)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)

    @field_validator("budgets")
    @classmethod
    def _budget_texts(cls, value: dict[str, str]) -> dict[str, str]:
        for target, text in value.items():
            if not _BUDGET.match(text):
                raise ValueError(f'{target} = "{text}": write an amount per month, "500 USD/month"')
        return value

    def budget_list(self) -> list[Budget]:
        """The budgets, parsed."""
        from costlab.report.budgets import Budget

        return [
            Budget(target, Decimal(_BUDGET.match(text).group(1)), "month")  # type: ignore[union-attr]
            for target, text in self.budgets.items()
        ]

    def price_overrides(self) -> list[PriceOverride]:
        return [p.per_token() for p in self.prices]


def load(path: Path | None = None, cwd: Path | None = None) -> Settings:
    """Settings from `path`, else ./costlab.toml, else [tool.costlab] in ./pyproject.toml."""
    cwd = cwd or Path.cwd()
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        return _parse(path, _read(path))
    own = cwd / "costlab.toml"
    if own.is_file():
        return _parse(own, _read(own))
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        section = _read(pyproject).get("tool", {}).get("costlab")
        if section is not None:
            return _parse(pyproject, section, prefix="tool.costlab.")
    return Settings()


def db_path(flag: str | None, settings: Settings) -> str:
    """The store path: the --db flag, else $COSTLAB_DB, else the config file, else the default."""
    return flag or os.environ.get(DB_ENV) or settings.db or DEFAULT_DB


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _parse(path: Path, data: dict[str, Any], prefix: str = "") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        line = _line_of(path, str(first["loc"][-1]))
        where = f"{path}, line {line}" if line else str(path)
        raise ConfigError(
            f"{where}: {prefix}{field}: {first['msg']}",
            "see the Configuration section of the README for the allowed keys",
        ) from None


def _line_of(path: Path, key: str) -> int | None:
    pattern = re.compile(rf"^\s*\[*\s*(?:[\w.]+\.)?{re.escape(key)}\b")
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if pattern.match(text):
            return number
    return None
