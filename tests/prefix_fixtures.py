"""Known-answer traffic for the prefix-cache tests: exact token counts under cl100k_base."""

from __future__ import annotations

from typing import Any

STATIC = " hello" * 2000  # 2,000 tokens
START = "2026-11-02T10:00:00Z"


def variable(n: int) -> str:
    """50 tokens whose first and last tokens differ per n (n < 1000)."""
    return f"{n:03d}" + " world" * 47 + f" id{n:03d}"


def record(n: int, model: str, *, seconds: float, **fields: Any) -> dict[str, Any]:
    minute, second = divmod(seconds, 60)
    record = {
        "request_id": f"{model}-{n}",
        "timestamp": f"2026-11-02T10:{int(minute):02d}:{second:06.3f}Z",
        "model": model,
        "input_tokens": 2050,
        "output_tokens": 10,
        "feature": "support",
        "duration_ms": 800,
    }
    record.update(fields)
    return record


def static_first(model: str, count: int = 100, span_s: float = 297.0, **fields: Any) -> list[Any]:
    """A template of 2,000 static + 50 variable tokens, sent `count` times within `span_s`."""
    step = span_s / (count - 1)
    return [
        record(n, model, seconds=n * step, system_prompt=STATIC, prompt=variable(n), **fields)
        for n in range(count)
    ]


def variable_first(model: str, count: int = 100, span_s: float = 297.0) -> list[Any]:
    """The same template with the variable part first: nothing is cacheable as it stands."""
    step = span_s / (count - 1)
    return [
        record(n, model, seconds=n * step, prompt=variable(n) + STATIC, feature="triage")
        for n in range(count)
    ]
