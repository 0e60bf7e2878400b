from __future__ import annotations

import pytest

from costlab import usage
from costlab.errors import RecordError


def test_openai_cached_tokens_are_a_subset_of_prompt_tokens() -> None:
    b = usage.openai(2006, 300, cached_tokens=1920, reasoning_tokens=128, total_tokens=2306)
    assert (b["uncached_input_tokens"], b["cached_input_tokens"]) == (86, 1920)
    assert (b["output_tokens"], b["reasoning_tokens"]) == (300, 128)
    assert b["flags"] == []


def test_anthropic_cache_tokens_come_on_top_of_input_tokens() -> None:
    b = usage.anthropic(
        100,
        50,
        cache_read_tokens=2000,
        cache_creation_tokens=500,
        cache_creation_5m_tokens=300,
        cache_creation_1h_tokens=200,
    )
    assert b["uncached_input_tokens"] == 100
    assert b["cached_input_tokens"] == 2000
    assert (b["cache_write_5m_tokens"], b["cache_write_1h_tokens"]) == (300, 200)
    assert b["flags"] == []


def test_anthropic_unsplit_cache_writes_count_as_five_minute_writes() -> None:
    b = usage.anthropic(10, 5, cache_creation_tokens=700)
    assert (b["cache_write_5m_tokens"], b["cache_write_1h_tokens"]) == (700, 0)


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"cached_tokens": 200}, usage.CACHED_GT_INPUT),
        ({"reasoning_tokens": 60}, usage.REASONING_GT_OUTPUT),
        ({"total_tokens": 999}, usage.TOTAL_MISMATCH),
    ],
)
def test_broken_invariants_are_flagged_not_fixed(kwargs: dict[str, int], flag: str) -> None:
    b = usage.openai(100, 50, **kwargs)
    assert b["flags"] == [flag]
    # The logged values are kept as they were.
    assert b["cached_input_tokens"] == kwargs.get("cached_tokens", 0)
    assert b["reasoning_tokens"] == kwargs.get("reasoning_tokens", 0)


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "negative"), ("12", "str, not a number"), (1.5, "whole number"), (True, "bool")],
)
def test_bad_token_counts_are_record_errors(value: object, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        usage.count(value, "input_tokens")


def test_missing_required_count_is_an_error_and_optional_is_zero() -> None:
    with pytest.raises(RecordError, match="missing token count 'output_tokens'"):
        usage.count(None, "output_tokens", default=None)
    assert usage.count(None, "cached") == 0
    assert usage.count(12.0, "x") == 12
