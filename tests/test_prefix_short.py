"""Prompts under every rule's minimum are not tokenized, and no figure moves: the fast path of
`prefix.traffic` against the reference (every prompt tokenized) on real logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from costlab import encodings, prices
from costlab.prefix import replay, report, rules, traffic
from costlab.scope import Scope
from costlab.store import Store
from tests.conftest import load

ROOT = Path(__file__).parents[1]
SAMPLES = ROOT / "sample_logs"
BANKING = ROOT / "tests" / "data" / "banking77" / "support_sample.jsonl"
# Texts where bytes and tokens part ways: multi-byte scripts, emoji (a surrogate pair as two
# code points too), a lone surrogate, special-token markers, runs of whitespace and digits.
AWKWARD = [
    "日本語のテキスト、句読点。",
    "emoji 😀👍🏽 family 👨‍👩‍👧",
    "pair \ud83d\ude00 as two code points",
    "lone \ud800 surrogate",
    "<|endoftext|><|endofprompt|><|im_start|>",
    " " * 500 + "\n\n\t" * 40,
    "1234567890" * 30,
    "a",
    "",
]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from costlab import ingest
    from costlab.ingest import sources

    db = tmp_path_factory.mktemp("samples") / "samples.duckdb"
    with Store.open(db) as store:  # long prompts (sample_logs/) and short ones (Banking77)
        ingest.ingest(
            store,
            sources.expand([str(SAMPLES), str(BANKING)]),
            ingest.IngestOptions(),
            prices.Catalogue.load(),
        )
    return db


def _reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference path: a bound of 0 leaves no prompt untokenized."""
    monkeypatch.setattr(rules, "smallest_prefix", lambda table: 0)


def _texts(store: Store) -> list[str]:
    found = traffic.load(store, Scope(), traffic.AUTO)
    return found.segment_texts


@pytest.mark.parametrize("name", encodings.ENCODINGS)
def test_a_prompt_never_has_more_tokens_than_utf8_bytes(name: str, sample_store: Path) -> None:
    with Store.open(sample_store, read_only=True) as store:
        texts = _texts(store)
    texts += AWKWARD
    tokenizer = encodings.load(name)
    counts = tokenizer.count(texts)
    sizes = [len(t.encode("utf-8", "surrogatepass")) for t in texts]
    assert all(c <= b for c, b in zip(counts, sizes, strict=True))
    assert max(c / b for c, b in zip(counts, sizes, strict=True) if b) > 0.5  # bound is tight-ish


@pytest.mark.parametrize("choice", ["auto", "openai", "anthropic"])
def test_skipping_short_prompts_changes_no_figure_on_sample_logs(
    choice: rules.RuleChoice, sample_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue = prices.Catalogue.load()
    options = report.PrefixOptions(rules=choice, top=0, batch_features={"summarize": "test"})
    with Store.open(sample_store, read_only=True) as store:
        fast = report.run(store, options, catalogue)
        below = rules.smallest_prefix(rules.RULES)
        found = traffic.load(store, Scope(), traffic.AUTO, below=below)
        _reference(monkeypatch)
        reference = report.run(store, options, catalogue)
    assert found.short.any() and not found.short.all()  # both paths are exercised
    assert fast.total.saved_usd > 0
    assert fast == reference


def test_the_replay_of_a_short_prompt_is_the_same_with_tokens_or_without(
    sample_store: Path,
) -> None:
    table = rules.RULES
    with Store.open(sample_store, read_only=True) as store:
        full = traffic.load(store, Scope(), traffic.AUTO)
        fast = traffic.load(store, Scope(), traffic.AUTO, below=rules.smallest_prefix(table))
    for s in range(len(full.tokens)):
        if fast.short[s]:
            assert len(full.tokens[s]) < rules.smallest_prefix(table)
            assert len(fast.segment_ends[s]) == len(full.segment_ends[s])
        else:
            assert (fast.tokens[s] == full.tokens[s]).all()
    for choice in ("openai", "anthropic"):
        rule_of: list[rules.RuleName | None] = [choice] * len(full)  # type: ignore[list-item]
        units = {m: replay.UnitPrices(*(p,) * 4) for m, p in _ones(full.models).items()}
        a = replay.replay(full, rule_of, table, units)
        b = replay.replay(fast, rule_of, table, units)
        assert a.cached.tolist() == b.cached.tolist()
        assert a.write_5m.tolist() == b.write_5m.tolist()
        assert a.write_1h.tolist() == b.write_1h.tolist()
        assert [t.breakpoint for t in a.templates] == [t.breakpoint for t in b.templates]


def _ones(models: list[str]) -> dict[str, object]:
    from decimal import Decimal

    return {m: Decimal(1) for m in models}


def test_one_memo_tokenizes_each_text_once(
    sample_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memo: traffic.Memo = {}
    with Store.open(sample_store, read_only=True) as store:
        first = traffic.load(store, Scope(), traffic.AUTO, below=1024, memo=memo)
        calls: list[int] = []
        ids = encodings.Tokenizer.ids

        def counted(self: encodings.Tokenizer, texts: list[str]) -> list[list[int]]:
            calls.append(len(texts))
            return ids(self, texts)

        monkeypatch.setattr(encodings.Tokenizer, "ids", counted)
        again = traffic.load(store, Scope(), traffic.AUTO, below=1024, memo=memo)
    assert memo and calls == []
    assert all((a == b).all() for a, b in zip(first.tokens, again.tokens, strict=True))


def test_a_template_change_into_a_short_prompt_is_still_warned(
    store: Store, catalogue: prices.Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.prefix_fixtures import STATIC, record

    long_first = [record(n, "gpt-4o", seconds=n, system_prompt=STATIC, prompt=f"q{n}")
                  for n in range(5)]  # fmt: skip
    short_after = [record(n, "gpt-4o", seconds=60 + n, system_prompt=" hello" * 10, prompt="q")
                   for n in range(5, 10)]  # fmt: skip
    load(store, catalogue, tmp_path, long_first + short_after)
    fast = report.run(store, report.PrefixOptions(), catalogue)
    _reference(monkeypatch)
    reference = report.run(store, report.PrefixOptions(), catalogue)
    assert any("first prompt segment changed" in w for w in fast.warnings)
    assert fast.warnings == reference.warnings
