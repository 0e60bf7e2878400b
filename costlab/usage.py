"""Token usage normalised into disjoint buckets, with each provider's semantics in one place.

- OpenAI: `cached_tokens` are a subset of `prompt_tokens`; reasoning tokens are inside
  `completion_tokens`.
- Anthropic: `cache_read_input_tokens` and `cache_creation_input_tokens` come on top of
  `input_tokens`.
- LiteLLM and OpenTelemetry GenAI: the prompt count already includes cache reads and writes.

A record that breaks an invariant is kept, with a flag naming the invariant; it is never
silently "fixed". Only a bucket that would go negative is clamped to zero (and flagged).
"""

from __future__ import annotations

from typing import Any, TypedDict

from costlab.errors import RecordError

# Flags a record can carry; the ingest summary counts each.
CACHED_GT_INPUT = "cached_gt_input"
REASONING_GT_OUTPUT = "reasoning_gt_output"
TOTAL_MISMATCH = "total_mismatch"
CACHE_WRITE_SPLIT_MISMATCH = "cache_write_split_mismatch"
NO_TIMESTAMP = "no_timestamp"


class Buckets(TypedDict):
    uncached_input_tokens: int
    cached_input_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    reasoning_tokens: int
    total_tokens_logged: int | None
    flags: list[str]


def count(value: Any, field: str, *, default: int | None = 0) -> int:
    """A token count from a log value: a non-negative integer, or a RecordError naming the field."""
    if value is None:
        if default is None:
            raise RecordError(f"missing token count '{field}'")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"token count '{field}' is {type(value).__name__}, not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise RecordError(f"token count '{field}' is not a whole number: {value}")
        value = int(value)
    if value < 0:
        raise RecordError(f"token count '{field}' is negative: {value}")
    return int(value)


def _output(output: int, reasoning: int, flags: list[str]) -> None:
    if reasoning > output:
        flags.append(REASONING_GT_OUTPUT)


def openai(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    total_tokens: int | None = None,
) -> Buckets:
    """Buckets from OpenAI-style usage (cached and reasoning are subsets)."""
    flags: list[str] = []
    if cached_tokens > prompt_tokens:
        flags.append(CACHED_GT_INPUT)
    _output(completion_tokens, reasoning_tokens, flags)
    if total_tokens is not None and total_tokens != prompt_tokens + completion_tokens:
        flags.append(TOTAL_MISMATCH)
    return Buckets(
        uncached_input_tokens=max(prompt_tokens - cached_tokens, 0),
        cached_input_tokens=cached_tokens,
        cache_write_5m_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=completion_tokens,
        reasoning_tokens=reasoning_tokens,
        total_tokens_logged=total_tokens,
        flags=flags,
    )


def anthropic(
    input_tokens: int,
    output_tokens: int,
    *,
    cache_read_tokens: int = 0,
    cache_creation_tokens: int = 0,
    cache_creation_5m_tokens: int | None = None,
    cache_creation_1h_tokens: int | None = None,
    reasoning_tokens: int = 0,
    total_tokens: int | None = None,
) -> Buckets:
    """Buckets from Anthropic-style usage (cache read and write come on top of input)."""
    flags: list[str] = []
    if cache_creation_5m_tokens is None and cache_creation_1h_tokens is None:
        write_5m, write_1h = cache_creation_tokens, 0
    else:
        write_5m, write_1h = cache_creation_5m_tokens or 0, cache_creation_1h_tokens or 0
        if cache_creation_tokens and write_5m + write_1h != cache_creation_tokens:
            flags.append(CACHE_WRITE_SPLIT_MISMATCH)
    _output(output_tokens, reasoning_tokens, flags)
    all_input = input_tokens + cache_read_tokens + write_5m + write_1h
    if total_tokens is not None and total_tokens not in (
        all_input + output_tokens,
        input_tokens + output_tokens,
    ):
        flags.append(TOTAL_MISMATCH)
    return Buckets(
        uncached_input_tokens=input_tokens,
        cached_input_tokens=cache_read_tokens,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning_tokens,
        total_tokens_logged=total_tokens,
        flags=flags,
    )


def inclusive(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    cache_read: int = 0,
    cache_write: int = 0,
    cache_write_5m: int | None = None,
    cache_write_1h: int | None = None,
    reasoning: int = 0,
    total: int | None = None,
) -> Buckets:
    """Buckets from a prompt count that already includes cache reads and writes."""
    writes = cache_write
    if cache_write_5m is not None or cache_write_1h is not None:
        writes = (cache_write_5m or 0) + (cache_write_1h or 0)
    uncached = prompt_tokens - cache_read - writes
    buckets = anthropic(
        max(uncached, 0),
        completion_tokens,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_write,
        cache_creation_5m_tokens=cache_write_5m,
        cache_creation_1h_tokens=cache_write_1h,
        reasoning_tokens=reasoning,
        total_tokens=total,
    )
    if uncached < 0:
        buckets["flags"].append(CACHED_GT_INPUT)
    return buckets
