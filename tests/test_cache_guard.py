"""The false-hit guard and honest hit precision in simulate-cache (issue 16, items 4 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costlab.cache import guard, precision, reference, savings, simulate, sketch
from costlab.cache.normalize import normalize
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA, Cli, FakeEmbedder, load

SAMPLE = DATA / "banking77" / "support_sample.jsonl"


@pytest.mark.parametrize(
    ("query", "entry", "rule"),
    [
        ("Send £200 to my landlord", "Send £500 to my landlord", "numbers"),
        ("Is my top-up of 20 euros pending?", "Is my top-up pending?", "numbers"),
        ("What is the weather on 2026-11-05", "What is the weather on 2026-11-06", "numbers"),
        ("Can I use Apple Pay with this card?", "Can I use Google Pay with this card?", "names"),
        ("Why was my card declined in Spain?", "Why was my card declined in France?", "names"),
        ("I did not get my refund", "I did get my refund", "negation"),
        ("My card doesn't work at the ATM", "My card works at the ATM", "negation"),
        ("How do I lose weight quickly", "How do I gain weight quickly", "contrast"),
        ("How do I lock my card?", "How do I unlock my card?", "contrast"),
        ("Can I increase my limit?", "Can I decrease my limit?", "contrast"),
    ],
)
def test_each_rule_refuses_the_disagreement_it_is_for(query: str, entry: str, rule: str) -> None:
    every = guard.Guard(frozenset(guard.RULES))
    assert every.refuses(query, entry) == rule
    assert every.refuses(entry, query) == rule  # the order does not matter
    others = frozenset(r for r in guard.RULES if r != rule)
    assert guard.Guard(others).refuses(query, entry) is None  # and only that rule refuses it
    # by default, negation is off (it refused mostly paraphrases on labelled traffic)
    assert (guard.Guard().refuses(query, entry) is None) == (rule == "negation")


@pytest.mark.parametrize(
    ("query", "entry"),
    [
        ("Transfer 1,000 pounds to savings", "transfer 1000 pounds to savings"),
        ("It costs 5.00 dollars", "it costs 5 dollars"),
        ("Can I use Apple Pay?", "can i use apple pay"),  # capitals on one side only
        ("Where is my new card?", "My new card has not arrived yet, where is it?"),  # overlap low
        ("How do I top up my card?", "What is the way to add money to my card?"),
        ("How do I unlock my card?", "How do I unlock my card?"),
    ],
)
def test_paraphrases_stand(query: str, entry: str) -> None:
    assert guard.Guard().refuses(query, entry) is None


def test_the_memo_judges_every_pair_as_refuses_does() -> None:
    texts = ["Send £200 to Anna", "Send £500 to Anna", "send £200 to anna", "How do I lock it?"]
    a = np.array([1, 2, 0, 1, 3, 1], dtype=np.int64)
    b = np.array([0, 0, 1, 0, 3, 0], dtype=np.int64)
    check = guard.Guard()
    memo = sketch.Memo(check, texts)
    expected = [check.refuses(texts[x], texts[y]) is not None for x, y in zip(a, b, strict=True)]
    assert memo.refused(a, b).tolist() == expected == [True, False, True, True, False, True]
    assert memo.refused(a[:2], b[:2]).tolist() == expected[:2]  # asked again: the same


def test_unknown_rules_are_named() -> None:
    assert guard.parse_rules("numbers, names") == frozenset({"numbers", "names"})
    with pytest.raises(ValueError, match="colour"):
        guard.parse_rules("numbers,colour")


@pytest.fixture
def banking(store: Store, catalogue: Catalogue, tmp_path: Path) -> Store:
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    for k, r in enumerate(records):  # numbers that the normalised key hides, on every 7th
        if k % 7 == 0:
            r["prompt"] = f"{r['prompt']} It was {10 + k} pounds."
        if k % 5 == 0:  # and a label missing on every 5th
            del r["intent"]
    load(store, catalogue, tmp_path, records)
    return store


def _run(store: Store, **kwargs: object) -> savings.CacheReport:
    return savings.run(store, savings.CacheOptions(embedder="fake", **kwargs))  # type: ignore[arg-type]


def test_the_guard_pays_exactly_the_hits_it_refuses(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    options = {"thresholds": [0.9, 0.97], "label": "metadata.intent", "min_precision": 0.0}
    off, on = _run(banking, guard=False, **options), _run(banking, guard=True, **options)
    for a, b in zip(off.thresholds, on.thresholds, strict=True):
        assert a.guard_refused == b.guard_refused > 0
        assert b.hits == a.hits - a.guard_refused
        assert b.saved_usd < a.saved_usd
        assert (a.precision, a.precision_guarded) == (b.precision_unguarded, b.precision)
    assert off.guard is False and on.guard is True


def test_requests_without_a_label_are_left_out_of_precision_and_counted(
    banking: Store, fake_embedder: FakeEmbedder
) -> None:
    report = _run(banking, thresholds=[0.95], label="metadata.intent", guard=False)
    row = report.thresholds[0]
    assert report.unlabelled_requests == 120  # every 5th of 600
    # the same replay one request at a time, judged by hand over the labelled pairs only
    rows = banking.rows(
        "SELECT prompt, json_extract_string(metadata, '$.intent') FROM requests "
        "ORDER BY ts, request_id"
    )
    ids: dict[str, int] = {}
    keys = [ids.setdefault(normalize(p), len(ids)) for p, _ in rows]
    traffic = simulate.Traffic(np.arange(len(rows), dtype=np.float64), np.zeros(len(rows)), keys)
    replay = reference.naive(FakeEmbedder().encode(list(ids)), traffic, 0.95)
    pairs = [(rows[i][1], rows[e][1]) for i, e in enumerate(replay.served_by) if e >= 0]
    judged = [a == b for a, b in pairs if a is not None and b is not None]
    assert row.hits == len(pairs) and row.judged_hits == len(judged)
    assert row.unjudged_hits == len(pairs) - len(judged) > 0
    assert row.precision == pytest.approx(sum(judged) / len(judged))
    assert 0 < sum(judged) < len(judged)


def test_no_threshold_qualifying_names_the_best(
    banking: Store, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    report = _run(banking, thresholds=[0.9, 0.95, 0.99], label="metadata.intent", min_precision=1)
    shown = [r for r in report.thresholds if r.precision is not None]
    assert report.recommended_threshold is None and shown
    best = max(shown, key=lambda r: (r.precision or 0.0, float(r.saved_usd)))
    assert (report.best_threshold, report.best_precision) == (best.threshold, best.precision)


def test_the_cli_says_when_no_threshold_qualifies(
    cli: Cli, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    assert cli("ingest", str(SAMPLE)).exit_code == 0
    args = ["simulate-cache", "--embedder", "fake", "--label", "metadata.intent"]
    page = tmp_path / "cache.html"
    result = cli(*args, "--sweep", "0.90:0.99:0.03", "--min-precision", "1", "--html", str(page))
    assert result.exit_code == 0, result.output
    assert "no threshold reaches --min-precision 100%: the best is" in result.stdout
    html = page.read_text()
    assert "No threshold reaches the minimum precision of 100%: the best is" in html
    assert '<th class="num">refused</th>' in html
    on = json.loads(cli(*args, "--threshold", "0.95", "--guard", "--json").stdout)
    off = json.loads(cli(*args, "--threshold", "0.95", "--no-guard", "--json").stdout)
    assert on["guard"] is True and off["guard"] is False
    refused = off["thresholds"][0]["guard_refused"]
    assert on["thresholds"][0]["hits"] == off["thresholds"][0]["hits"] - refused


def _verdicts(judged: list[bool], right: list[bool]) -> precision.Verdicts:
    return precision.Verdicts(np.array(judged), np.array(right))


def test_a_label_free_estimate_needs_enough_pairs_and_responses_that_follow_the_question() -> None:
    few = _verdicts([True] * 5, [True] * 5)
    assert "too few" in (precision.distrust(few, np.zeros(5, bool)) or "")
    n = 40
    unique = _verdicts([True] * n, [False] * n)  # every response different, repeats included
    assert "repeated prompts differ" in (precision.distrust(unique, np.ones(n, bool)) or "")
    follows = _verdicts([True] * n, [True] * 30 + [False] * 10)
    assert precision.distrust(follows, np.ones(n, bool)) is None
    shown = precision.measure(unique, precision.distrust(unique, np.ones(n, bool)))
    assert shown.value is None and shown.unavailable and shown.judged == n


def test_unique_responses_make_the_estimate_unavailable(
    store: Store, catalogue: Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()][:200]
    records += [dict(r, request_id=r["request_id"] + "-again") for r in records]
    for k, r in enumerate(records):  # the same question twice, a different ticket each time
        r["response"] = f"T{k * 7919:x}: ticket opened at {k % 24:02d}:{k % 60:02d}"
        r["timestamp"] = f"2026-10-{1 + k // 200:02d}T{(k // 60) % 24:02d}:{k % 60:02d}:00Z"
    load(store, catalogue, tmp_path, records)
    report = _run(store, thresholds=[0.95], guard=False)
    row = report.thresholds[0]
    assert row.precision is None and row.hits >= 200
    assert "repeated prompts differ" in (row.precision_unavailable or "")
