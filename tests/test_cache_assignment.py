"""simulate-cache keeps each request's intent in the store: what its report lists, one set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from costlab.cache import savings
from costlab.prices import Catalogue
from costlab.scope import Scope
from costlab.store import Store
from tests.conftest import DATA, FakeEmbedder, load
from tests.intent_fixtures import IDS, SIZES, THRESHOLD, expected, records

FROM_REPORT = "SELECT intent, requests, hits, spend_usd, prompt FROM intents"


def options(threshold: float = THRESHOLD, **kw: Any) -> savings.CacheOptions:
    return savings.CacheOptions(thresholds=[threshold], embedder="fake", **kw)


def stored(store: Store) -> dict[str, tuple[int, int, str]]:
    """request_id -> (intent, its size, its representative prompt), as route-replay reads them."""
    rows = store.rows(
        "SELECT a.request_id, a.intent, i.requests, i.prompt "
        "FROM request_intents a JOIN intents i USING (intent)"
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.fixture
def small(store: Store, catalogue: Catalogue, tmp_path: Path) -> Store:
    load(store, catalogue, tmp_path, records())
    return store


def test_each_request_is_stored_with_its_intent(small: Store, fake_embedder: FakeEmbedder) -> None:
    report = savings.run(small, options())
    found = stored(small)
    assert {r: (i, size) for r, (i, size, _) in found.items()} == {
        r: (IDS[group], SIZES[group]) for r, group in expected().items()
    }
    assert {i: prompt for i, _, prompt in found.values()} == {
        1: "Refund my shoes",  # the first entry's prompt, as logged
        2: "Password reset needed",
        3: "Weather in Paris",
        4: "Write a poem about cats",
        5: "Summarise this contract",
    }
    listed = [(i.intent, i.requests, i.hits, i.spend_usd, i.prompt) for i in report.intents]
    assert listed == small.rows(f"{FROM_REPORT} WHERE requests > 1 ORDER BY intent")
    assert [i.intent for i in report.intents] == [1, 2, 3]
    assert small.rows("SELECT first_request_id FROM intents ORDER BY intent") == [
        ("q-00",), ("q-01",), ("q-03",), ("q-06",), ("q-11",),
    ]  # fmt: skip
    assert small.row(
        "SELECT embedder, threshold, cache_key, normalized, requests, intents, recurring "
        "FROM intent_sets"
    ) == ("fake-8", THRESHOLD, "prompt", True, 12, 5, 3)
    assert any("stored for route-replay" in n for n in report.notes)


def test_the_stored_intents_are_those_the_report_lists(
    store: Store, catalogue: Catalogue, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    sample = DATA / "banking77" / "support_sample.jsonl"
    load(store, catalogue, tmp_path, [json.loads(x) for x in sample.read_text().splitlines()])
    report = savings.run(store, savings.CacheOptions([0.9, 0.95], embedder="fake", intents=8))
    focus = next(r for r in report.thresholds if r.threshold == report.focus_threshold)
    listed = [(i.intent, i.requests, i.hits, i.spend_usd, i.prompt) for i in report.intents]
    assert len(listed) == 8
    assert listed == store.rows(f"{FROM_REPORT} WHERE intent <= 8 ORDER BY intent")
    assert store.row("SELECT count(*), count(DISTINCT request_id) FROM request_intents") == (
        600,
        600,
    )
    assert store.row("SELECT sum(requests), sum(hits) FROM intents") == (600, focus.hits)
    assert (
        store.rows(
            "SELECT i.intent FROM intents i JOIN request_intents a USING (intent) "
            "GROUP BY i.intent, i.requests HAVING count(*) <> i.requests"
        )
        == []
    )  # each intent's size is the number of requests stored with it
    assert store.row("SELECT threshold FROM intent_sets") == (report.focus_threshold,)


def test_a_rerun_replaces_the_stored_intents(small: Store, fake_embedder: FakeEmbedder) -> None:
    savings.run(small, options())
    savings.run(small, options())
    assert small.row("SELECT count(*) FROM intent_sets") == (1,)
    assert small.row("SELECT count(*) FROM request_intents") == (12,)
    assert small.row("SELECT count(*) FROM intents") == (5,)

    savings.run(small, options(0.8))  # a looser threshold: password and weather merge
    assert small.row("SELECT threshold, requests, intents FROM intent_sets") == (0.8, 12, 4)
    assert small.row("SELECT count(*) FROM request_intents") == (12,)
    assert sorted(size for _, size, _ in stored(small).values()).count(5) == 10

    refunds = Scope(where="prompt ILIKE 'refund%'")  # a narrower run keeps only its requests
    savings.run(small, options(scope=refunds))
    assert set(stored(small)) == {r for r, group in expected().items() if group == "refund"}
    assert small.row("SELECT where_sql, intents FROM intent_sets") == ("prompt ILIKE 'refund%'", 1)

    savings.run(small, options(save_intents=False))  # leaves the stored set as it was
    assert small.row("SELECT threshold, where_sql FROM intent_sets") == (
        THRESHOLD,
        "prompt ILIKE 'refund%'",
    )
