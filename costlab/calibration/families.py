"""Tokenizer families of model names, and the fixed table of their tokens per cl100k token.

The table holds rough averages for English prose: what route-replay falls back on where the
user's own traffic has too few requests to measure a family's ratio (`costlab.calibration`).
"""

from __future__ import annotations

import re

# (pattern searched in the lower-cased model name, family, tokens per cl100k token on English
# prose). Rough averages; anything outside the same family is reported as an estimate.
TOKENIZERS: tuple[tuple[str, str, float], ...] = (
    (r"gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt|\bo[134](-|$)|gpt-oss", "o200k", 0.95),
    (r"gpt-4|gpt-3\.5|text-davinci", "cl100k", 1.0),
    (r"claude", "claude", 1.15),
    (r"gemini|gemma", "gemini", 1.05),
    (r"mistral|mixtral|codestral|ministral|pixtral", "mistral", 1.15),
    (r"llama-?3|llama-?4", "llama3", 1.0),
    (r"llama", "llama2", 1.2),
    (r"deepseek", "deepseek", 1.05),
    (r"qwen", "qwen", 1.05),
)
UNKNOWN_RATIO = 1.0
TABLE = {family: ratio for _, family, ratio in TOKENIZERS}


def tokenizer(model: str) -> tuple[str | None, float]:
    """The tokenizer family of a model name and its table ratio (None: unknown family)."""
    name = model.lower().rsplit("/", 1)[-1]
    for pattern, family, ratio in TOKENIZERS:
        if re.search(pattern, name):
            return family, ratio
    return None, UNKNOWN_RATIO
