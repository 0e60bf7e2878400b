"""Hostile and broken input at ingest: no crash, no silent loss, nothing kept that was refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from costlab import ingest
from costlab.ingest import IngestOptions, sources
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
    reasons = [
        r[0] for r in store.rows("SELECT reason FROM rejects ORDER BY source_file, source_line")
    ]
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


def _zstd(path: Path, records: list[object], keep: float) -> Path:
    import zstandard

    data = zstandard.ZstdCompressor().compress(write_jsonl(path, records).read_bytes())
    path.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data)
    return path


def test_truncated_zstd_is_reported_like_truncated_gzip(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    records = [flat(i, prompt=f"question {i} " * 20) for i in range(3000)]
    head_only = tmp_path / "head.jsonl.zst"
    head_only.write_bytes(_zstd(tmp_path / "x.jsonl.zst", records, 1).read_bytes()[:12])
    cut = _zstd(tmp_path / "cut.jsonl.zst", records, 0.5)
    whole = _zstd(tmp_path / "whole.jsonl.zst", [flat(i) for i in range(5000, 5010)], 1)
    result = run(store, catalogue, head_only, cut, whole)
    by_file = {Path(f.source).name: f for f in result.files}
    assert (by_file["head.jsonl.zst"].added, by_file["head.jsonl.zst"].rejected) == (0, 1)
    assert 0 < by_file["cut.jsonl.zst"].added < 3000 and by_file["cut.jsonl.zst"].rejected == 1
    assert (by_file["whole.jsonl.zst"].added, by_file["whole.jsonl.zst"].rejected) == (10, 0)
    reasons = [r[0] for r in store.rows("SELECT reason FROM rejects")]
    assert (
        reasons
        == ["compressed stream is truncated or corrupt: the zstd stream ends inside a frame"] * 2
    )


def test_a_json_document_cut_midway_is_one_error(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    text = json.dumps([flat(i) for i in range(50)])
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 2 // 3])
    result = run(store, catalogue, path)
    assert (result.total("added"), result.total("rejected")) == (0, 1)
    assert store.row("SELECT reason FROM rejects")[0].startswith("truncated JSON document")


def test_a_binary_or_empty_file_is_one_error_for_the_file(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    (tmp_path / "image.png").write_bytes(png)
    (tmp_path / "image.jsonl").write_bytes(png)
    (tmp_path / "blob.log").write_bytes(b'{"a": 1}\n\x00\x01\x02\n')
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    (tmp_path / "none.json").write_bytes(b"[]")
    names = ["image.png", "image.jsonl", "blob.log", "empty.jsonl", "none.json"]
    result = run(store, catalogue, *(tmp_path / n for n in names))
    assert [f.status for f in result.files] == ["refused"] * 5
    assert [f.error for f in result.files] == [
        "not a log: a PNG image",
        "not a log: a PNG image",
        "not a log: binary data (NUL bytes)",
        "no record in it: the file is empty",
        "no record in it: the file is empty",
    ]
    assert store.row("SELECT count(*), max(source_line) FROM rejects") == (5, 0)
    assert result.all_bad


def test_a_command_that_adds_nothing_because_all_was_bad_exits_3(tmp_path: Path, cli: Cli) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{nope", flat(1, model=None)])
    result = cli("ingest", str(bad))
    assert result.exit_code == 3 and "nothing added" in result.output
    as_json = cli("ingest", str(bad), "--json", "--force")
    assert as_json.exit_code == 3
    assert json.loads(as_json.stdout)["error"]["exit_code"] == 3
    good = write_jsonl(tmp_path / "good.jsonl", [flat(2)])
    assert cli("ingest", str(bad), str(good), "--force").exit_code == 0
    assert cli("ingest", str(good)).exit_code == 0  # skipped: already loaded is not bad


def test_strict_keeps_the_reasons_it_offers_to_list(tmp_path: Path, cli: Cli) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [flat(1), "{nope"])
    strict = cli("ingest", str(bad), "--strict", "--json")
    assert strict.exit_code == 1
    run_id = json.loads(strict.stdout)["run_id"]
    listed = json.loads(cli("rejects", "--run", run_id, "--json").stdout)
    assert [r["source_line"] for r in listed["rejects"]] == [2]


def test_reading_a_file_again_does_not_duplicate_its_rejects(tmp_path: Path, cli: Cli) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [flat(1), "{nope", "{nope2"])
    for args in ([], ["--force"], ["--force"], ["--strict"]):
        cli("ingest", str(bad), *args)
    listed = json.loads(cli("rejects", "--json").stdout)
    assert listed["total"] == 2


def test_rejects_says_how_many_it_does_not_show(tmp_path: Path, cli: Cli) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [flat(0)] + [f"{{nope {i}" for i in range(60)])
    cli("ingest", str(bad))
    table = cli("rejects")
    assert "Rejected records: 60, showing the first 50 (--limit shows more)" in table.stdout
    listed = json.loads(cli("rejects", "--json", "--limit", "5").stdout)
    assert (listed["total"], listed["shown"], len(listed["rejects"])) == (60, 5, 5)


def test_rejects_of_an_unknown_run_is_an_error(tmp_path: Path, cli: Cli) -> None:
    cli("ingest", str(write_jsonl(tmp_path / "a.jsonl", [flat(1)])))
    result = cli("rejects", "--run", "nosuchrun")
    assert result.exit_code == 2 and "no ingest run with this id" in result.output


def test_read_commands_do_not_create_a_store(tmp_path: Path) -> None:
    commands = (
        ["report"],
        ["rejects"],
        ["route-replay"],
        ["simulate-prefix-cache"],
        ["simulate-cache", "--threshold", "0.9"],
    )
    for command in commands:
        result = Cli(tmp_path / "typo.duckdb")(*command)
        assert result.exit_code == 2 and "no store at" in result.output, command
    assert list(tmp_path.iterdir()) == []


def test_conflicting_duplicates_are_counted_and_kept_identical_ones_stay_silent(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [flat(1), flat(2), flat(3, output_tokens=7)])
    second = write_jsonl(
        tmp_path / "b.jsonl",
        [flat(1), flat(2, output_tokens=999, prompt="other"), flat(3, output_tokens=8), flat(4)],
    )
    result = run(store, catalogue, first, second)
    assert (result.files[0].added, result.files[0].conflicting) == (3, 0)
    b = result.files[1]
    assert (b.added, b.duplicate, b.conflicting) == (1, 1, 2)
    assert b.conflict_examples[0] == (2, "req-2", f"{first}:2")
    kept = store.rows(
        "SELECT request_id, source_file, source_line, kept_source_file, kept_source_line, "
        "record->>'output_tokens' FROM conflicts ORDER BY source_line"
    )
    assert kept == [
        ("req-2", str(second), 2, str(first), 2, "999"),
        ("req-3", str(second), 3, str(first), 3, "8"),
    ]
    # The stored row is the first one read; a forced re-read does not add the conflicts twice.
    assert store.row("SELECT output_tokens FROM requests WHERE request_id = 'req-2'")[0] == 200
    run(store, catalogue, second, force=True)
    assert store.row("SELECT count(*) FROM conflicts")[0] == 2


def test_conflicts_within_one_file_keep_the_first_line_and_no_text(
    tmp_path: Path, store: Store, catalogue: Catalogue
) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            flat(1, prompt=SECRETS),
            flat(1, prompt=SECRETS, output_tokens=5),
            flat(1, prompt=SECRETS),
        ],
    )
    result = run(store, catalogue, path, no_text=True)
    assert (result.total("added"), result.total("duplicate"), result.total("conflicting")) == (
        1,
        1,
        1,
    )
    line, record = store.row("SELECT source_line, record FROM conflicts")
    assert line == 2 and json.loads(record)["output_tokens"] == 5
    assert "prompt" not in json.loads(record) and "jane" not in record


def test_ingest_and_rejects_report_conflicts_with_both_sources(tmp_path: Path, cli: Cli) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [flat(1)])
    b = write_jsonl(tmp_path / "b.jsonl", [flat(1, output_tokens=9), flat(2)])
    summary = cli("ingest", str(a), str(b))
    assert summary.exit_code == 0
    assert "1 conflicting duplicates" in summary.stdout
    assert f"b.jsonl:1: req-1 differs from the one kept from {a}:1" in summary.stdout
    listed = json.loads(cli("rejects", "--json").stdout)
    assert listed["conflicts_total"] == 1
    assert listed["conflicts"][0]["kept_source_file"] == str(a)
    assert "Conflicting duplicates (not stored): 1" in cli("rejects").stdout


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(
    not Path("/proc").is_dir() or (os.cpu_count() or 1) < 2, reason="needs /proc, 2 cores"
)
def test_killed_ingest_leaves_no_worker_processes(tmp_path: Path) -> None:
    chat = {
        "object": "chat.completion",
        "model": "gpt-4o",
        "created": 1767000000,
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    path = tmp_path / "chat.jsonl"
    path.write_bytes(
        b"".join(json.dumps(chat | {"id": f"c{i}"}).encode() + b"\n" for i in range(300_000))
    )
    script = (
        "import sys; from costlab.ingest import parse_pool; parse_pool.MIN_FILE_BYTES = 0; "
        "from costlab.cli import main; "
        f"sys.argv = ['costlab', '--db', {str(tmp_path / 'x.duckdb')!r}, 'ingest', {str(path)!r}]; "
        "main()"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=root)
    workers: list[int] = []
    deadline = time.monotonic() + 30
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        workers = [w for child in _children(proc.pid) for w in _children(child)]
    assert len(workers) >= 2, "the worker pool did not start"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(w) for w in workers)


def test_the_store_spills_outside_the_users_folder_and_cleans_up(tmp_path: Path) -> None:
    old = tmp_path / "s.duckdb.tmp"  # left by a killed command before this fix
    old.mkdir()
    (old / "duckdb_temp_storage-0.tmp").write_bytes(b"x")
    with Store.open(tmp_path / "s.duckdb") as store:
        spill = Path(store.row("SELECT current_setting('temp_directory')")[0])
        assert tmp_path not in spill.parents
        assert spill.parent.is_dir()  # DuckDB makes only the last level when it spills
        store.execute("SET memory_limit = '16MB'")  # a sort too big for memory: it spills
        store.rows("SELECT * FROM range(3000000) ORDER BY random() LIMIT 1")
    assert not old.exists() and not spill.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.duckdb"]
