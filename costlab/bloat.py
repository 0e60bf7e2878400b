"""Context bloat per feature: prompt sizes, and how much of them is a repeated system prompt."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class FeatureBloat:
    """The input-size picture of one feature."""

    feature: str | None
    requests: int
    p50_input_tokens: float
    p95_input_tokens: float
    max_input_tokens: int
    spend_usd: Decimal
    spend_above_p95_share: float  # share of the feature's spend from requests above its P95
    repeated_system_prompt_share: (
        float | None
    )  # share of input tokens that is a repeated system prompt
    system_prompt_tokens_exact: bool  # False when counted with an approximate tokenizer
