from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costlab.cache.normalize import _RULES, normalize


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


def _every_rule(text: str) -> str:
    text = text.lower()
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.strip()


@given(st.text(alphabet=st.sampled_from("aZ0٣@-._ é<>!?\n\t#/"), max_size=40))
def test_skipping_the_rules_that_cannot_match_changes_no_key(text: str) -> None:
    assert normalize(text) == _every_rule(text)


def test_the_shortcut_keeps_letter_ids_and_unicode_digits() -> None:
    assert normalize("ref abcdefab-abcd-abcd-abcd-abcdefabcdef ok") == "ref <id> ok"
    assert normalize("code ٣٤") == "code <num>"


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_byte_table_is_the_last_two_rules(text: str) -> None:
    assert normalize(text) == _every_rule(text)


def test_every_ascii_character_as_the_rules_read_it() -> None:
    # control characters, \x1c-\x1f (whitespace to Python, not to bytes.split) and < > _
    for code in range(128):
        text = f"a{chr(code)}b {chr(code)}"
        assert normalize(text) == _every_rule(text), repr(chr(code))
