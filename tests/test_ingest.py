"""End-to-end ingest: counts, exact costs, idempotency, bad input, atomicity, privacy."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from costlab import ingest
from costlab.ingest import IngestOptions, sources
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import DATA, flat, write_jsonl


def run(store: Store, catalogue: Catalogue, *paths: Path, **options: object) -> ingest.IngestResult:
    inputs = sources.expand([str(p) for p in paths])
    return ingest.ingest(store, inputs, IngestOptions(**options), catalogue)  # type: ignore[arg-type]


def test_litellm_payload_is_priced_exactly(store: Store, catalogue: Catalogue) -> None:
    result = run(store, catalogue, DATA / "litellm" / "example_standard_logging_payload.json")
    assert result.total("added") == 1
    computed, logged, cost, source = store.row(
        "SELECT computed_cost_usd, logged_cost_usd, cost_usd, cost_source FROM requests"
    )
    # 10 prompt + 20 completion tokens on gpt-4o: 10 * $2.50/M + 20 * $10/M.
    assert computed == Decimal("0.000225")
    assert logged == Decimal("0.000225")  # the logged float 0.00022500000000000002, kept exact
    assert (cost, source) == (Decimal("0.000225"), "logged")
    buckets = store.row(
        "SELECT uncached_input_cost_usd, cached_input_cost_usd, cache_write_cost_usd, "
        "output_cost_usd, reasoning_cost_usd FROM requests"
    )
    assert buckets == (Decimal("0.000025"), 0, 0, Decimal("0.0002"), 0)


def test_openai_batch_lines_are_priced_at_batch_rates(store: Store, catalogue: Catalogue) -> None:
    run(store, catalogue, DATA / "openai" / "litellm_test_fixture_batch_output.jsonl")
    rows = store.rows(
        "SELECT input_tokens, output_tokens, batch, model, computed_cost_usd FROM requests "
        "ORDER BY input_tokens"
    )
    # gpt-4o-mini batch: $0.075/M input, $0.30/M output.
    assert rows == [
        (20, 10, True, "gpt-4o-mini-2024-07-18", Decimal("0.0000045")),
        (22, 10, True, "gpt-4o-mini-2024-07-18", Decimal("0.00000465")),
    ]


def test_batch_outputs_get_their_prompt_from_input_lines(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    inputs = write_jsonl(
        tmp_path / "batch_input.jsonl",
        [
            {
                "custom_id": "request-1",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": "Say hello"},
                    ],
                },
            }
        ],
    )
    run(store, catalogue, DATA / "openai" / "litellm_test_fixture_batch_output.jsonl", inputs)
    joined = store.rows("SELECT system_prompt, prompt FROM requests WHERE prompt IS NOT NULL")
    assert joined == [("You are terse.", "Say hello")]
    assert store.row("SELECT count(*) FROM requests")[0] == 2
    # Reading the input file again does not make its custom_ids ambiguous.
    run(store, catalogue, inputs, force=True)
    assert store.row("SELECT count(*) FROM batch_inputs")[0] == 1


def test_totals_equal_an_independent_sum(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    records = [flat(i, input_tokens=100 * i, output_tokens=7 * i) for i in range(1, 41)]
    result = run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", records))
    expected = sum(
        Decimal(r["input_tokens"]) * Decimal("0.00000015")
        + Decimal(r["output_tokens"]) * Decimal("0.0000006")
        for r in records
    )
    assert result.spend_usd == expected
    assert store.row("SELECT sum(cost_usd) FROM requests")[0] == expected
    assert result.total("added") == 40


def test_reingesting_a_file_adds_nothing_and_is_fast(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [flat(i) for i in range(200)])
    assert run(store, catalogue, path).total("added") == 200
    started = time.perf_counter()
    again = run(store, catalogue, path)
    assert time.perf_counter() - started < 0.5
    assert again.files[0].status == "skipped"
    forced = run(store, catalogue, path, force=True)
    assert (forced.total("added"), forced.total("duplicate")) == (0, 200)
    assert store.row("SELECT count(*) FROM requests")[0] == 200


def test_records_without_id_dedupe_on_content(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    records = [flat(i, request_id=None) for i in range(5)]
    run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", records))
    # The same records in another file (another sha256) are still the same requests.
    again = run(store, catalogue, write_jsonl(tmp_path / "b.jsonl", records + [flat(99)]))
    assert (again.total("added"), again.total("duplicate")) == (1, 5)


def test_each_bad_record_is_rejected_and_the_rest_loads(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    lines: list[object] = [
        flat(1),
        '{"request_id": "x", "model": ',  # malformed JSON
        flat(2, input_tokens="many"),  # wrong type
        flat(3, output_tokens=-5),  # negative
        {"hello": "world"},  # unknown format
        flat(4, model=None),  # missing model
        "[1, 2, 3]",  # not an object
        flat(5),
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    with path.open("ab") as f:
        f.write(
            b'{"request_id": "bin", "model": "gpt-4o", "input_tokens": 1, "prompt": "\xff\xfe"}\n'
        )
    result = run(store, catalogue, path)
    assert (result.total("added"), result.total("rejected")) == (2, 7)
    reasons = dict(store.rows("SELECT source_line, reason FROM rejects"))
    assert reasons[2].startswith("malformed JSON")
    assert "str, not a number" in reasons[3]
    assert "negative" in reasons[4]
    assert reasons[5].startswith("unknown format")
    assert "model" in reasons[6]
    assert "not an object" in reasons[7]
    assert reasons[9].startswith("not valid UTF-8")
    raw = store.row("SELECT raw, source_file FROM rejects WHERE source_line = 2")
    assert raw == ('{"request_id": "x", "model": ', str(path))


def test_a_huge_line_is_rejected_without_stopping_the_file(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    huge = orjson.dumps(flat(2, prompt="x" * 50_000_000)).decode()
    path = write_jsonl(tmp_path / "huge.jsonl", [flat(1), huge, flat(3)])
    result = run(store, catalogue, path)
    assert (result.total("added"), result.total("rejected")) == (2, 1)
    reason, raw_bytes, stored = store.row("SELECT reason, raw_bytes, length(raw) FROM rejects")
    assert "over the 16 MB limit" in reason
    assert raw_bytes > 50_000_000 and stored == 4096


def test_truncated_gzip_keeps_what_was_readable(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = write_jsonl(tmp_path / "cut.jsonl.gz", [flat(i) for i in range(2000)], compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    result = run(store, catalogue, path)
    assert 0 < result.total("added") < 2000
    assert result.total("rejected") == 1
    assert "truncated" in store.row("SELECT reason FROM rejects")[0]


def test_strict_stores_nothing_of_a_file_with_a_reject(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [flat(1)])
    bad = write_jsonl(tmp_path / "bad.jsonl", [flat(2), "{not json"])
    result = run(store, catalogue, good, bad, strict=True)
    assert [f.status for f in result.files] == ["loaded", "rolled_back"]
    assert store.row("SELECT count(*) FROM requests")[0] == 1
    # The reasons are kept (so the listing the summary offers works); the run says rolled back.
    assert store.rows("SELECT source_line FROM rejects") == [(2,)]
    statuses = store.rows("SELECT status FROM ingest_runs ORDER BY source_file")
    assert statuses == [("rolled_back",), ("loaded",)]


def test_unknown_model_gets_null_cost_and_is_counted(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [flat(1, model="acme-llm-9"), flat(2, model="acme-llm-9")]
    )
    result = run(store, catalogue, path)
    assert result.unknown_models() == {"acme-llm-9": 2}
    assert store.rows("SELECT DISTINCT cost_usd, computed_cost_usd FROM requests") == [(None, None)]


def test_logged_cost_that_disagrees_is_reported(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    right = flat(1, cost=0.00027)  # 1000 * 0.15/M + 200 * 0.60/M
    wrong = flat(2, cost=0.01)
    result = run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", [right, wrong]))
    assert result.total("mismatched_cost") == 1
    note = store.row("SELECT price_note FROM requests WHERE request_id = 'req-2'")[0]
    assert "disagrees" in note


def test_long_context_tier_switches_above_200k(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    model = "gemini-2.5-pro"
    points = {p.above_tokens: p for p in catalogue.points([model]) if not p.batch}
    assert 200_000 in points, "the catalogue should carry gemini-2.5-pro's >200k tier"
    records = [
        flat(1, model=model, input_tokens=200_000, output_tokens=0),
        flat(2, model=model, input_tokens=200_001, output_tokens=0),
    ]
    run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", records))
    costs = dict(store.rows("SELECT request_id, computed_cost_usd FROM requests"))
    assert costs["req-1"] == 200_000 * points[0].input
    assert costs["req-2"] == 200_001 * points[200_000].input


def test_flags_and_missing_timestamps_are_counted(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    records = [flat(1, cached_input_tokens=5000), flat(2, timestamp=None), flat(3)]
    result = run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", records))
    assert result.files[0].flags == {"cached_gt_input": 1, "no_timestamp": 1}
    assert result.total("no_timestamp") == 1
    assert result.total("flagged") == 2


def test_extra_fields_are_kept_as_metadata_and_map_finds_them(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    record = flat(1, feature=None, intent="card_lost", app={"feature": "billing"})
    run(
        store,
        catalogue,
        write_jsonl(tmp_path / "a.jsonl", [record]),
        field_map={"feature": "app.feature"},
    )
    intent, feature = store.row("SELECT metadata->>'$.intent', feature FROM requests")
    assert (intent, feature) == ("card_lost", "billing")


def test_redact_masks_text_before_it_is_stored(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    record = flat(1, prompt="I am jane@example.com, card 4111 1111 1111 1111", response="ok")
    run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", [record]), redact=True)
    prompt = store.row("SELECT prompt FROM requests")[0]
    assert prompt == "I am [EMAIL], card [CARD]"


def test_no_text_keeps_hashes_and_counts_only(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    record = flat(1, system_prompt="be nice", prompt="secret plans", response="noted")
    run(store, catalogue, write_jsonl(tmp_path / "a.jsonl", [record]), no_text=True)
    row = store.row(
        "SELECT system_prompt, prompt, response, prompt_hash, input_tokens FROM requests"
    )
    assert row[:3] == (None, None, None)
    assert row[3] is not None and row[4] == 1000


def test_json_arrays_gzip_and_zstd_are_read(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    import zstandard

    (tmp_path / "rows.json").write_bytes(orjson.dumps([flat(1), flat(2)]))
    write_jsonl(tmp_path / "rows.jsonl.gz", [flat(3)], compress=True)
    (tmp_path / "rows.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(orjson.dumps(flat(4)) + b"\n")
    )
    result = run(store, catalogue, tmp_path)
    assert result.total("added") == 4


def _ingest_cmd(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "costlab", "--db", str(db), "ingest", *args]


def test_kill_mid_file_leaves_the_store_as_before(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    small = write_jsonl(tmp_path / "small.jsonl", [flat(i) for i in range(10)])
    subprocess.run(_ingest_cmd(db, str(small)), check=True, capture_output=True)
    big = tmp_path / "big.jsonl"
    with big.open("wb") as f:
        for i in range(200_000):
            f.write(orjson.dumps(flat(i, request_id=f"big-{i}")) + b"\n")
    # --redact takes the per-record path (~15 s here): killed at 3 s, it is surely mid-file.
    proc = subprocess.Popen(
        _ingest_cmd(db, str(big), "--redact"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(3.0)
    assert proc.poll() is None, "ingest finished before it could be killed: make the file bigger"
    proc.kill()
    proc.wait()
    with Store.open(db) as reopened:
        assert reopened.row("SELECT count(*) FROM requests")[0] == 10
        assert reopened.row("SELECT count(*) FROM ingest_runs")[0] == 1


def test_a_second_writer_gets_a_clear_locked_error(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        small = write_jsonl(tmp_path / "a.jsonl", [flat(1)])
        done = subprocess.run(_ingest_cmd(db, str(small)), capture_output=True, text=True)
    finally:
        holder.kill()
    assert done.returncode == 2
    assert "in use by another process" in done.stderr
    assert "Traceback" not in done.stderr


def test_stdin_is_read(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    data = b"\n".join(orjson.dumps(flat(i)) for i in range(3))
    done = subprocess.run(_ingest_cmd(db, "-", "--json"), input=data, capture_output=True)
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert summary["totals"]["added"] == 3
    assert summary["files"][0]["source"] == "<stdin>"
    assert summary["files"][0]["sha256"] is not None


def test_shared_real_samples_load_when_present(store: Store, catalogue: Catalogue) -> None:
    shared = Path(__file__).parents[1].parent / "shared" / "data" / "log_samples"
    if not shared.is_dir():
        pytest.skip("../shared is not beside this clone")
    result = run(store, catalogue, shared / "openai_batch", shared / "litellm")
    assert result.total("rejected") == 0 and result.total("added") == 3


@pytest.mark.parametrize("use_bulk", [True, False])
def test_prompt_hashes_are_the_md5_of_the_stored_texts(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, use_bulk: bool
) -> None:
    import hashlib

    from costlab.ingest import bulk

    if not use_bulk:
        monkeypatch.setattr(bulk, "eligible", lambda *args: False)
    # A few templates repeated (their md5 is taken once each), some unique, none at all.
    templates = ["You are a bank's assistant.\nBe brief.", "Réponds en français 🚀", "x" * 5000]
    records = [
        flat(i, **({"system_prompt": templates[i % 3]} if i % 4 else {}))
        | ({"system_prompt": f"unique {i}"} if i % 10 == 7 else {})
        for i in range(120)
    ]
    path = write_jsonl(tmp_path / "prompts.jsonl", records)
    store = Store.open(":memory:")
    ingest.ingest(store, sources.expand([str(path)]), IngestOptions(), catalogue)
    rows = store.rows("SELECT system_prompt, prompt, system_prompt_hash, prompt_hash FROM requests")
    assert len(rows) == 120
    assert len({system for system, *_ in rows}) == 3 + 12 + 1  # the templates, unique, none
    for system, prompt, system_hash, prompt_hash in rows:
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
        assert system_hash == (None if system is None else md5(system))
        assert prompt_hash == md5(f"{system or ''}\0{prompt}")
