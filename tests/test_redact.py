from __future__ import annotations

import pytest

from costlab.redact import redact


@pytest.mark.parametrize(
    ("text", "secret", "mask"),
    [
        ("write to jane.doe+billing@example.co.uk please", "jane.doe", "[EMAIL]"),
        ("my key is sk-proj-Abcdefghijklmnop1234567 thanks", "sk-proj", "[SECRET]"),
        ("use AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE", "[SECRET]"),
        ("header Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGci", "[SECRET]"),
        ("card 4111 1111 1111 1111 exp 12/29", "4111", "[CARD]"),
        ("call me on +1 415-555-0132 tonight", "555-0132", "[PHONE]"),
        ("office (020) 7946 0958", "7946", "[PHONE]"),
    ],
)
def test_personal_data_and_secrets_are_masked(text: str, secret: str, mask: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert mask in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "Summarise the Q3 report: revenue grew 12% to 4.2M on 2026-11-02."
    assert redact(text) == text
