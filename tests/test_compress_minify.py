"""minify: fewer tokens, same meaning; protected spans and labels untouched."""

from __future__ import annotations

from costlab.compress import protect
from costlab.compress.minify import minify


def test_whitespace_markdown_and_repeated_sentences_go() -> None:
    text = (
        "You are **Lumen**   support.   Answer in {language}.\n\n\n\n---\n"
        "Always answer politely and keep it short.\n<!-- internal note -->\n"
        "Always answer politely and keep it short.   \n"
    )
    assert minify(text) == (
        "You are Lumen support. Answer in {language}.\n\nAlways answer politely and keep it short."
    )


def test_short_repeated_lines_are_labels_and_stay() -> None:
    text = "Review: good\nSentiment: positive\n\nReview: fine\nSentiment: positive"
    assert minify(text) == text


def test_json_loses_whitespace_but_keeps_keys_and_values_as_written() -> None:
    text = 'Reply as:\n{\n  "name": "{name}",\n  "score": 1e5,\n  "tags": [1,  2]\n}\nThanks.'
    assert minify(text) == 'Reply as:\n{"name":"{name}","score":1e5,"tags":[1,2]}\nThanks.'
    fenced = '```json\n{\n  "a": "x  y"\n}\n```'
    assert minify(fenced) == '```json\n{"a":"x  y"}\n```'


def test_code_blocks_urls_and_placeholders_are_byte_for_byte() -> None:
    text = (
        "See   https://x.example/a  b?c=1   now.\n"
        "```python\nx  =  {  'a':   1 }\n\n\n\ny = 2\n```\n"
        "{{  user  }}   and   {%  if x  %}y{%  endif  %}"
    )
    out = minify(text)
    assert "```python\nx  =  {  'a':   1 }\n\n\n\ny = 2\n```" in out
    assert "{{  user  }} and {%  if x  %}y{%  endif  %}" in out
    assert protect.check(text, out) is None
