"""fewshot: the few-shot block is found, cut to the k most representative, the rest kept."""

from __future__ import annotations

import numpy as np

from costlab.compress import fewshot, protect
from tests.conftest import DATA

SENTIMENT = (DATA / "compress" / "sentiment_fewshot.txt").read_text()


def test_greedy_coverage_picks_one_example_per_cluster() -> None:
    vectors = np.array(
        [[1, 0, 0], [0.99, 0.1, 0], [0.98, 0.05, 0.1], [0, 1, 0], [0.05, 0.99, 0], [0, 0, 1]],
        dtype=np.float32,
    )
    assert fewshot.select(vectors, 1)[0] in {0, 1, 2}  # from the largest cluster
    first, second, third = fewshot.select(vectors, 3)
    assert first in {0, 1, 2} and second in {3, 4} and third == 5


def test_the_seed_prompt_keeps_instruction_rules_one_example_and_the_slot() -> None:
    cut = fewshot.cut(SENTIMENT, 1, fewshot.lexical)
    assert (cut.examples, cut.kept) == (8, 1)
    assert cut.text.count("Review:") == 2  # one example, and the {review} slot
    assert "Sarcasm counts as negative." in cut.text
    assert "Sentiment is one of: positive, negative, neutral." in cut.text
    assert cut.text.rstrip().endswith("Review: {review}\nSentiment:")
    assert protect.check(SENTIMENT, cut.text) is None


def test_example_headers_and_tags() -> None:
    headed = "Classify.\n\nExample 1:\nIn: a\nOut: x\n\nExample 2:\nIn: b\nOut: y\n\nNow: {q}"
    cut = fewshot.cut(headed, 1, fewshot.lexical)
    assert (cut.examples, cut.text.count("Example")) == (2, 1)
    assert cut.text.endswith("Now: {q}")
    tagged = (
        "Do it.\n<example>one two</example>\n<example>three</example>\n"
        "<example>one two three</example>\n{q}"
    )
    cut = fewshot.cut(tagged, 2, fewshot.lexical)
    assert (cut.examples, cut.kept, cut.text.count("<example>")) == (3, 2, 2)
    assert cut.text.startswith("Do it.\n<example>") and cut.text.endswith("\n{q}")


def test_one_line_examples_and_no_examples() -> None:
    lines = "Map words.\nhappy -> positive\nsad -> negative\nglad -> positive\nok -> neutral\n"
    cut = fewshot.cut(lines, 2, fewshot.lexical)
    assert (cut.examples, cut.kept) == (4, 2)
    assert cut.text.startswith("Map words.\n") and cut.text.count("->") == 2
    plain = "Summarise the text below in {n} bullet points.\n\n{text}"
    assert fewshot.cut(plain, 1, fewshot.lexical) == fewshot.Cut(plain, 0, 0)
