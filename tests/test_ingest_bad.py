"""Hostile and broken input at ingest: no crash, no silent loss, nothing kept that was refused."""

from __future__ import annotations

import json
from pathlib import Path

from costlab import ingest, sources
from costlab.ingest import IngestOptions
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import Cli, flat, write_jsonl


def run(store: Store, catalogue: Catalogue, *paths: Path, **options: object) -> ingest.IngestResult:
    inputs = sources.expand([str(p) for p in paths])
    return ingest.ingest(store, inputs, IngestOptions(**options), catalogue)  # type: ignore[arg-type]


def test_a_token_count_over_2_63_is_one_reject_and_later_files_load(
    tmp_path: Path, cli: Cli
) -> None:
    ok = write_jsonl(tmp_path / "ok.jsonl", [flat(1)])
    huge = tmp_path / "h.jsonl"
    huge.write_text(json.dumps(flat(2)).replace('"input_tokens": 1000', '"input_tokens": 1e30'))
    more = write_jsonl(tmp_path / "more.jsonl", [flat(3)])
    result = cli("ingest", str(ok), str(huge), str(more), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(f["added"], f["rejected"]) for f in summary["files"]] == [(1, 0), (0, 1), (1, 0)]
    reason = summary["files"][1]["reject_examples"][0][1]
    assert "over the plausible limit of 100,000,000" in reason


def test_implausible_token_counts_are_rejected_on_both_paths_with_the_limit(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    records = [flat(1, output_tokens=4_600_000_000_000_000_000), flat(2, input_tokens=5001)]
    bulk_file = write_jsonl(tmp_path / "a.jsonl", records)
    one_doc = tmp_path / "b.json"  # a .json document takes the per-record path
    one_doc.write_bytes(json.dumps([flat(3, output_tokens=4_600_000_000_000_000_000)]).encode())
    result = run(store, catalogue, bulk_file, one_doc, max_tokens=5000)
    assert [(f.added, f.rejected) for f in result.files] == [(0, 2), (0, 1)]
    reasons = [r[0] for r in store.rows("SELECT reason FROM rejects ORDER BY source_file, source_line")]
    assert "'output_tokens' is 4.6e+18, over the plausible limit of 5,000" in reasons[0]
    assert "'uncached_input_tokens' is 5,001, over the plausible limit of 5,000" in reasons[1]
    assert store.row("SELECT count(*) FROM requests")[0] == 0


SECRETS = "mail jane.doe@example.com key sk-proj-abcdefghijklmnop1234 card 4111 1111 1111 1111"


def test_redact_and_no_text_reach_the_rejects_table(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    bad = flat(1, input_tokens="many", prompt=SECRETS)
    path = write_jsonl(tmp_path / "a.jsonl", [bad, '{"prompt": "' + SECRETS + '", '])
    run(store, catalogue, path, redact=True)
    raws = [r[0] for r in store.rows("SELECT raw || reason FROM rejects")]
    assert len(raws) == 2
    for raw in raws:
        assert "jane.doe" not in raw and "sk-proj" not in raw and "4111" not in raw
        assert "[EMAIL]" in raw
    run(store, catalogue, path, no_text=True, force=True)
    kept = store.rows("SELECT raw, raw_bytes FROM rejects WHERE raw IS NULL")
    assert len(kept) == 2 and all(size > 0 for _, size in kept)


def test_no_text_keeps_batch_input_prompts_out_of_the_store(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    line = {
        "custom_id": "request-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": SECRETS}]},
    }
    run(store, catalogue, write_jsonl(tmp_path / "in.jsonl", [line]), no_text=True)
    assert store.row("SELECT count(*) FROM batch_inputs")[0] == 0
