"""Protected spans: masked and restored byte for byte; the placeholder check; brace balance."""

from __future__ import annotations

import pytest

from costlab.compress import protect
from costlab.errors import BadInput

TEMPLATE = (
    "Hi {name}, your order {{ order.id }} of $12.50 ships {% if fast %}today{% endif %}.\n"
    "Call `lookup(id)` or see https://lumen.example/help?x=1. Use $currency and {0}.\n"
    '{"status": "ok"}\n'
    "```python\nprint({'a': 1})\n```\n"
)


def test_mask_swaps_every_kind_and_unmask_restores_the_text() -> None:
    masked = protect.mask(TEMPLATE)
    assert masked.unmask(masked.text) == TEMPLATE
    assert set(masked.kinds) == {"placeholder", "number", "code", "url", "json_key"}
    assert "{name}" not in masked.text and "https://" not in masked.text


def test_placeholders_in_order_and_not_inside_code() -> None:
    assert protect.placeholders(TEMPLATE) == [
        "{name}",
        "{{ order.id }}",
        "{% if fast %}",
        "{% endif %}",
        "$currency",
        "{0}",
    ]


def test_check_names_what_went_wrong() -> None:
    assert protect.check("a {x} b {y}", "a {x} {y}") is None
    assert protect.check("a {x} b {y}", "a {x}") == "placeholder {y} lost"
    assert protect.check("a {x} b {y}", "{y} a {x}") == "placeholders reordered"
    assert protect.check("a {x}", "a {x} {z}") == "placeholder {z} appeared"


def test_split_keeps_sentinels_and_newlines_apart() -> None:
    masked = protect.mask("Dear {name},\nthanks")
    pieces = protect.split(masked.text)
    assert [p for p, guarded in pieces if not guarded] == ["Dear ", ",", "thanks"]


@pytest.mark.parametrize("text", ["Hello {name", "Hello name}", "{{ a }"])
def test_unbalanced_braces_are_bad_input(text: str) -> None:
    with pytest.raises(BadInput, match="unbalanced braces"):
        protect.check_braces(text, "t.txt")


def test_braces_inside_code_blocks_do_not_count() -> None:
    protect.check_braces("ok {x}\n```\nif (a) {\n```\n", "t.txt")
