"""Known-answer traffic for the stored intents: three recurring questions and two one-offs.

Under the fake embedder, texts sharing their first word are at least 0.998 similar and the
others at most 0.85, so at a 0.95 threshold the intents are exactly the groups named below.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import flat

THRESHOLD = 0.95
# In time order, the three groups interleaved; the expected intent of each request follows.
PROMPTS = [
    ("Refund my shoes", "refund"),
    ("Password reset needed", "password"),
    ("refund my hat please", "refund"),
    ("Weather in Paris", "weather"),
    ("Refund the coat", "refund"),
    ("password forgotten", "password"),
    ("Write a poem about cats", "poem"),
    ("refund a bag", "refund"),
    ("weather tomorrow", "weather"),
    ("password change", "password"),
    ("refund my order now", "refund"),
    ("Summarise this contract", "summary"),
]
SIZES = {"refund": 5, "password": 3, "weather": 2, "poem": 1, "summary": 1}
# The ids route-replay sees: recurring intents by size, then the one-offs in time order.
IDS = {"refund": 1, "password": 2, "weather": 3, "poem": 4, "summary": 5}


def records(model: str = "gpt-4o", start: int = 0) -> list[dict[str, Any]]:
    """One request per prompt, a minute apart, logged on `model` (numbered from `start`)."""
    return [
        flat(
            start + n,
            request_id=f"q-{start + n:02d}",
            timestamp=f"2026-11-01T10:{start + n:02d}:00Z",
            model=model,
            prompt=prompt,
            feature="support",
        )
        for n, (prompt, _) in enumerate(PROMPTS)
    ]


def expected(start: int = 0) -> dict[str, str]:
    """request_id -> its intent's name."""
    return {f"q-{start + n:02d}": group for n, (_, group) in enumerate(PROMPTS)}
