"""`costlab export` and `costlab ingest DATASET`: a Parquet dataset other engines read, and back."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from costlab.errors import BadInput
from costlab.store import Store
from tests.conftest import Cli, flat, write_jsonl

SAMPLE_LOGS = Path(__file__).parents[1] / "sample_logs"
TABLES = ("requests", "rejects", "embeddings", "outcomes", "embedding_imports")


@pytest.fixture
def exported(cli: Cli, tmp_path: Path) -> Path:
    """The sample logs (18 requests without a timestamp, 6 rejects), an outcome and a vector."""
    assert cli("ingest", str(SAMPLE_LOGS)).exit_code == 0
    with Store.open(cli.db) as store:
        store.execute(
            "INSERT INTO outcomes VALUES ('r1', NULL, 'gpt-4o', 0.75, 12, 'o.jsonl', 1, NULL)"
        )
        store.execute("INSERT INTO embeddings VALUES ('abc', 'fake-8', 2, [0.6, 0.8])")
    result = cli("export", str(tmp_path / "lake"))
    assert result.exit_code == 0, result.output
    return tmp_path / "lake"


def _differences(a: Path, b: Path, table: str) -> int:
    """Rows of `table` in one store and not the other (as bags), both ways."""
    with Store.open(b) as store:
        store.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
        one = store.row(f"SELECT count(*) FROM (FROM a.{table} EXCEPT ALL FROM {table})")
        two = store.row(f"SELECT count(*) FROM (FROM {table} EXCEPT ALL FROM a.{table})")
    assert one is not None and two is not None
    return int(one[0]) + int(two[0])


def test_the_layout_is_hive_partitioned_by_day_with_a_manifest(exported: Path, cli: Cli) -> None:
    days = sorted(p.name for p in (exported / "requests").iterdir())
    assert "day=__HIVE_DEFAULT_PARTITION__" in days and "day=2026-11-02" in days
    assert all(list((exported / t).glob("*.parquet")) for t in TABLES if t != "requests")
    manifest = json.loads((exported / "manifest.json").read_text())
    with Store.open(cli.db) as store:
        count, no_ts, cost = store.row(
            "SELECT count(*), count(*) FILTER (WHERE ts IS NULL), sum(cost_usd) FROM requests"
        ) or (0, 0, 0)
        assert manifest["schema_version"] == store.migrations()[-1]
    assert manifest["tables"]["requests"]["rows"] == count == 472
    assert manifest["tables"]["requests"]["no_timestamp"] == no_ts == 18
    assert Decimal(manifest["tables"]["requests"]["cost_usd_sum"]) == cost
    assert manifest["tables"]["rejects"]["rows"] == 6


def test_pyarrow_and_duckdb_read_the_same_rows_and_cost_to_the_last_decimal(
    exported: Path, cli: Cli
) -> None:
    table = ds.dataset(exported / "requests", format="parquet", partitioning="hive").to_table()
    assert table.schema.field("cost_usd").type == pa.decimal128(38, 18)
    arrow_cost = dict(
        zip(table["request_id"].to_pylist(), table["cost_usd"].to_pylist(), strict=True)
    )
    with Store.open(":memory:") as store:
        glob = str(exported / "requests" / "*" / "*.parquet")
        duck = dict(
            store.rows(
                "SELECT request_id, cost_usd FROM read_parquet(?, hive_partitioning = true)", [glob]
            )
        )
        day_null = store.row(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true) WHERE day IS NULL",
            [glob],
        )
    with Store.open(cli.db) as store:
        stored = dict(store.rows("SELECT request_id, cost_usd FROM requests"))
    assert arrow_cost == duck == stored  # every request, its cost exact (Decimal, 18 places)
    total = sum((c for c in stored.values() if c is not None), Decimal(0))
    assert pc.sum(table["cost_usd"]).as_py() == total
    assert total.as_tuple().exponent == -18
    assert day_null == (18,) and pc.sum(pc.is_null(table["day"])).as_py() == 18


def test_ingest_reads_the_dataset_back_without_loss(
    exported: Path, cli: Cli, tmp_path: Path
) -> None:
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported), "--json")
    assert result.exit_code == 0, result.output
    [loaded] = json.loads(result.output)["files"]
    assert (loaded["status"], loaded["added"], loaded["no_timestamp"]) == ("loaded", 472, 18)
    for table in TABLES:
        assert _differences(cli.db, other.db, table) == 0, table
    with Store.open(other.db) as store:
        runs = store.rows(
            "SELECT source_file, added FROM ingest_runs WHERE source_file = ?", [str(exported)]
        )
        assert runs == [(str(exported), 472)]
        # the runs the rows came from travel with them
        assert store.row(
            "SELECT count(*) FROM requests WHERE run_id NOT IN (SELECT run_id FROM ingest_runs)"
        ) == (0,)


def test_a_second_import_adds_nothing(exported: Path, tmp_path: Path) -> None:
    other = Cli(tmp_path / "other.duckdb")
    assert other("ingest", str(exported)).exit_code == 0
    again = json.loads(other("ingest", str(exported), "--json").output)["files"][0]
    assert again["status"] == "skipped"
    forced = json.loads(other("ingest", str(exported), "--force", "--json").output)["files"][0]
    assert (forced["added"], forced["duplicate"]) == (0, 472)
    with Store.open(other.db) as store:
        assert store.row("SELECT count(*) FROM requests") == (472,)
        assert store.row("SELECT count(*) FROM rejects") == (6,)
        assert store.row("SELECT count(*) FROM outcomes") == (1,)


def test_export_refuses_a_folder_in_use_and_replaces_its_own(exported: Path, cli: Cli) -> None:
    result = cli("export", str(exported))
    assert result.exit_code == 2 and "already exists" in result.output
    assert cli("export", str(exported), "--replace").exit_code == 0
    elsewhere = exported.parent / "notes"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    assert cli("export", str(elsewhere), "--replace").exit_code == 2
    assert (elsewhere / "keep.txt").read_text() == "mine"


def _nothing_stored(db: Path) -> None:
    with Store.open(db) as store:
        for table in ("requests", "rejects", "outcomes", "embeddings"):
            assert store.row(f"SELECT count(*) FROM {table}") == (0,), table
        assert store.row("SELECT count(*) FROM ingest_runs") == (0,)


def test_a_missing_file_is_caught_by_the_manifest(exported: Path, tmp_path: Path) -> None:
    shutil.rmtree(exported / "requests" / "day=2026-11-02")
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported))
    assert result.exit_code == 2
    assert f"{exported / 'requests'}" in result.output and "manifest says 472" in result.output
    _nothing_stored(other.db)


def test_a_dataset_of_another_shape_is_refused_naming_it(exported: Path, tmp_path: Path) -> None:
    path = exported / "outcomes" / "part-0.parquet"
    table = pq.read_table(path)
    pq.write_table(table.append_column("grade", pa.array(["A"])), path)
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported))
    assert result.exit_code == 2
    assert "another shape" in result.output and "grade" in result.output
    assert str(exported / "outcomes") in result.output
    _nothing_stored(other.db)


def test_a_newer_schema_is_refused(exported: Path, tmp_path: Path) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["migrations"].append("999_future")
    (exported / "manifest.json").write_text(json.dumps(manifest))
    result = Cli(tmp_path / "other.duckdb")("ingest", str(exported))
    assert result.exit_code == 2 and "newer costlab" in result.output


def test_a_failure_while_loading_leaves_the_store_as_it_was(exported: Path, tmp_path: Path) -> None:
    # A duplicated vector passes the checks but breaks the embeddings key inside the transaction.
    path = exported / "embeddings" / "part-0.parquet"
    shutil.copy(path, exported / "embeddings" / "part-1.parquet")
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["tables"]["embeddings"]["rows"] = 2
    (exported / "manifest.json").write_text(json.dumps(manifest))
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported))
    assert result.exit_code == 2
    assert f"{exported / 'embeddings'}: cannot be loaded, nothing was stored" in result.output
    _nothing_stored(other.db)


def test_flat_parquet_files_are_read_like_flat_logs(tmp_path: Path) -> None:
    records = [flat(n, cost=0.000123 * (n + 1)) for n in range(6)]
    records[2].pop("timestamp")
    write_jsonl(tmp_path / "flat.jsonl", records)
    table = pa.Table.from_pylist(records)
    ts = pc.strptime(table["timestamp"], format="%Y-%m-%dT%H:%M:%SZ", unit="us")
    table = table.set_column(table.column_names.index("timestamp"), "timestamp", ts)
    pq.write_table(table, tmp_path / "flat.parquet")
    jsonl, parquet = Cli(tmp_path / "j.duckdb"), Cli(tmp_path / "p.duckdb")
    assert jsonl("ingest", str(tmp_path / "flat.jsonl")).exit_code == 0
    result = parquet("ingest", str(tmp_path / "flat.parquet"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files"][0]["source"] == str(tmp_path / "flat.parquet")
    columns = "request_id, ts, model, input_tokens, output_tokens, cost_usd, prompt, feature"
    rows = []
    for db in (jsonl.db, parquet.db):
        with Store.open(db) as store:
            rows.append(store.rows(f"SELECT {columns} FROM requests ORDER BY request_id"))
    assert rows[0] == rows[1] and len(rows[0]) == 6
    assert [r[1] is None for r in rows[1]].count(True) == 1


def test_a_parquet_file_of_another_shape_is_refused_naming_it(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"name": ["a"], "score": [1.0]}), path)
    result = cli("ingest", str(path))
    assert result.exit_code == 2 and str(path) in result.output and "another shape" in result.output
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    result = cli("ingest", str(tmp_path / "broken.parquet"))
    assert result.exit_code == 2 and "broken.parquet" in result.output
    _nothing_stored(cli.db)


def test_a_dataset_from_an_older_schema_loads_with_the_new_columns_empty(
    exported: Path, tmp_path: Path
) -> None:
    # As written before migration 003 (team) and 005 (outcomes): no team column, no outcomes.
    for path in (exported / "requests").rglob("*.parquet"):
        table = pq.read_table(path, partitioning=None)
        pq.write_table(table.drop_columns(["team"]), path)
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["migrations"] = manifest["migrations"][:2]
    manifest["schema_version"] = manifest["migrations"][-1]
    for table_name in ("outcomes", "embedding_imports"):
        del manifest["tables"][table_name]
        shutil.rmtree(exported / table_name)
    (exported / "manifest.json").write_text(json.dumps(manifest))
    other = Cli(tmp_path / "other.duckdb")
    assert other("ingest", str(exported)).exit_code == 0
    with Store.open(other.db) as store:
        assert store.row("SELECT count(*), count(team) FROM requests") == (472, 0)


def test_a_failed_export_leaves_no_folder(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costlab import dataset

    assert cli("ingest", str(SAMPLE_LOGS)).exit_code == 0
    written: list[str] = []
    write = ds.write_dataset

    def fail_on_the_third(reader: object, base_dir: Path, **kwargs: object) -> None:
        written.append(str(base_dir))
        if len(written) == 3:
            raise OSError("disk full")
        write(reader, base_dir, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ds, "write_dataset", fail_on_the_third)  # imported where it is used
    with Store.open(cli.db) as store, pytest.raises(BadInput, match="disk full"):
        dataset.export(store, tmp_path / "lake")
    assert len(written) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.duckdb"]


def test_a_table_of_a_dataset_is_not_read_as_a_flat_log(exported: Path, tmp_path: Path) -> None:
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported / "requests"))
    assert result.exit_code == 2 and "manifest.json" in result.output
    _nothing_stored(other.db)


def test_a_corrupt_file_in_a_dataset_is_named(exported: Path, tmp_path: Path) -> None:
    (exported / "requests" / "day=2026-11-03" / "part-0.parquet").write_bytes(b"PAR1 broken")
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported))
    assert result.exit_code == 2 and str(exported / "requests") in result.output
    _nothing_stored(other.db)


def test_one_ingest_takes_a_dataset_logs_and_a_glob_of_flat_parquet(
    exported: Path, tmp_path: Path
) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for n in (1, 2):
        pq.write_table(pa.Table.from_pylist([flat(100 + n)]), parts / f"calls-{n}.parquet")
    log = write_jsonl(tmp_path / "more.jsonl", [flat(200)])
    other = Cli(tmp_path / "other.duckdb")
    result = other("ingest", str(exported), str(log), str(parts / "*.parquet"), "--json")
    files = {f["source"]: f["added"] for f in _json_files(result)}
    assert files == {
        str(exported): 472,
        str(log): 1,
        str(parts / "calls-1.parquet"): 1,
        str(parts / "calls-2.parquet"): 1,
    }


def _json_files(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output)["files"])
