"""What compression saves: tokens per template, and dollars where the store knows the volume."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Usage:
    """How often a template's text is sent, and what an input token of it costs."""

    requests: int  # logged requests that carry the text
    requests_per_month: Decimal  # at the logged volume
    usd_per_token: Decimal | None  # effective input price (cache discounts included)
    price_source: str  # "logged" (input cost / input tokens) or "catalogue <model>"
    match: str  # how it was found: "system prompt", "prompt", "prefix"


@dataclass(frozen=True)
class TemplateResult:
    """One template before and after its method chain."""

    name: str
    methods: tuple[str, ...]
    tokens_before: int
    tokens_after: int
    requested_rate: float | None  # the share of tokens asked to keep (LLMLingua's --rate)
    protected_spans: int
    written: bool
    problem: str | None = None  # why it was not written
    examples: str | None = None  # few-shot examples found → kept, e.g. "8 → 1"
    saved_usd_per_1k_calls: Decimal | None = None  # at the catalogue input price
    usage: Usage | None = None
    notes: tuple[str, ...] = ()

    @property
    def saved_tokens(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def achieved_rate(self) -> float:
        """Tokens after over tokens before: 0.4 keeps 40 %; above 1 the method made it longer."""
        return self.tokens_after / self.tokens_before if self.tokens_before else 1.0

    @property
    def saved_usd_month(self) -> Decimal | None:
        if self.usage is None or self.usage.usd_per_token is None:
            return None
        return self.saved_tokens * self.usage.requests_per_month * self.usage.usd_per_token


@dataclass(frozen=True)
class CompressReport:
    """Every template's result, the token counter used, and what was written where."""

    templates: list[TemplateResult]
    model: str  # the target model: tokenizer and price
    encoding: str
    exact_tokens: bool  # False: counted with cl100k as an estimate for this model
    usd_per_input_token: Decimal | None  # the catalogue price of the target model
    out: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_before(self) -> int:
        return sum(t.tokens_before for t in self.templates)

    @property
    def tokens_after(self) -> int:
        return sum(t.tokens_after for t in self.templates)

    @property
    def saved_usd_month(self) -> Decimal | None:
        known = [t.saved_usd_month for t in self.templates if t.saved_usd_month is not None]
        return sum(known, Decimal(0)) if known else None

    @property
    def failed(self) -> int:
        return sum(1 for t in self.templates if t.problem is not None)

    def as_dict(self) -> dict[str, object]:
        """The report for --json: every figure, decimals kept exact."""
        rows = []
        for t in self.templates:
            rows.append(
                {
                    "name": t.name,
                    "methods": list(t.methods),
                    "tokens_before": t.tokens_before,
                    "tokens_after": t.tokens_after,
                    "saved_tokens": t.saved_tokens,
                    "ratio": round(t.tokens_before / t.tokens_after, 3) if t.tokens_after else None,
                    "requested_rate": t.requested_rate,
                    "achieved_rate": round(t.achieved_rate, 4),
                    "protected_spans": t.protected_spans,
                    "examples": t.examples,
                    "written": t.written,
                    "problem": t.problem,
                    "saved_usd_per_1k_calls": t.saved_usd_per_1k_calls,
                    "requests_per_month": t.usage.requests_per_month if t.usage else None,
                    "usd_per_input_token": t.usage.usd_per_token if t.usage else None,
                    "price_source": t.usage.price_source if t.usage else None,
                    "saved_usd_month": t.saved_usd_month,
                    "notes": list(t.notes),
                }
            )
        return {
            "model": self.model,
            "encoding": self.encoding,
            "exact_tokens": self.exact_tokens,
            "usd_per_input_token": self.usd_per_input_token,
            "out": self.out,
            "templates": rows,
            "totals": {
                "templates": len(self.templates),
                "written": sum(1 for t in self.templates if t.written),
                "failed": self.failed,
                "tokens_before": self.tokens_before,
                "tokens_after": self.tokens_after,
                "saved_tokens": self.tokens_before - self.tokens_after,
                "saved_usd_month": self.saved_usd_month,
            },
            "notes": self.notes,
        }
