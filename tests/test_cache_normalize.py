from __future__ import annotations

import pytest

from costlab.cache.normalize import normalize


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Where is order #48213?", "where is order 51120"),
        ("Email me at jane@example.com!", "email me at bob.smith@corp.co.uk"),
        ("Refund for 2026-11-02, please", "refund for 2025-01-15 please"),
        ("Status of ticket a1b2c3d4e5?", "status of ticket zz99yy88xx"),
        ("Thanks @alice", "thanks @bob"),
        ("I paid 12.50 twice", "I paid 1,299.00 twice"),
    ],
)
def test_variable_parts_normalise_to_the_same_key(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


def test_different_questions_stay_different() -> None:
    assert normalize("How do I close my account?") != normalize("How do I open an account?")
    assert normalize("  What IS   the fee?? ") == "what is the fee"
