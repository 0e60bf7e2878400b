"""The canonical shape of one LLM call, as every log format parser returns it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from costlab.usage import Buckets


class Call(Buckets, total=False):
    """One LLM call, provider-neutral. Token buckets are disjoint (see `costlab.usage`)."""

    request_id: str | None
    ts: datetime | None  # UTC, naive
    provider: str | None
    model: str | None  # as logged; prices.Catalogue.resolve() gives the catalogue name
    feature: str | None
    user_id: str | None
    team: str | None
    batch: bool
    logged_cost_usd: str | None  # decimal text, never a float sum
    latency_ms: float | None
    status: str  # "ok" | "error"
    system_prompt: str | None
    prompt: str | None  # the last user turn
    messages: Any  # JSON-serialisable list of messages, or None
    response: str | None
    metadata: dict[str, Any]  # every field the format did not map
