"""The store as a hive-partitioned Parquet dataset, for DuckDB, Spark and Trino to read at scale.

Layout of a dataset folder:

    manifest.json                     format, schema version, per table its rows (and cost sums)
    requests/day=YYYY-MM-DD/*.parquet  one partition per UTC day of `ts`
    requests/day=__HIVE_DEFAULT_PARTITION__/*.parquet   requests without a timestamp
    embeddings/*.parquet, outcomes/*.parquet, rejects/*.parquet,
    ingest_runs/*.parquet, embedding_imports/*.parquet

`__HIVE_DEFAULT_PARTITION__` is Hive's name for a NULL partition value: Spark, Trino, pyarrow and
DuckDB (`hive_partitioning = true`) all read those rows back with `day` NULL. Every column keeps
its store type: money stays DECIMAL(38, 18) (Parquet decimal128), vectors FLOAT lists, JSON as
text. The `day` column exists only in the folder names. Derived tables (the cache's entry lists,
intents) and pending batch inputs are not exported: they are rebuilt by the commands that make
them. The dataset is written next to its target and renamed into place at the end: a failed
export leaves no folder behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from costlab.errors import BadInput
from costlab.store import Store

FORMAT = "costlab-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NULL_DAY = "__HIVE_DEFAULT_PARTITION__"
PARTITIONED = "requests"
TABLES = ("requests", "embeddings", "outcomes", "rejects", "ingest_runs", "embedding_imports")
MONEY_COLUMNS = ("cost_usd", "logged_cost_usd", "computed_cost_usd")
# Partitions (days) one export may write: decades of logs.
MAX_PARTITIONS = 100_000


@dataclass(frozen=True)
class TableCount:
    """One table of a dataset: its rows and, for requests, the exact cost sums."""

    rows: int
    sums: dict[str, Decimal]
    no_timestamp: int = 0


@dataclass(frozen=True)
class Manifest:
    """What a dataset holds, as written in its manifest.json."""

    schema_version: str
    migrations: list[str]
    exported_at: str
    tables: dict[str, TableCount]

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_version": self.schema_version,
            "migrations": self.migrations,
            "exported_at": self.exported_at,
            "partitioning": {PARTITIONED: {"day": "UTC date of ts", "null": NULL_DAY}},
            "tables": {
                name: {
                    "rows": count.rows,
                    **({"no_timestamp": count.no_timestamp} if name == PARTITIONED else {}),
                    **{f"{col}_sum": str(total) for col, total in count.sums.items()},
                }
                for name, count in self.tables.items()
            },
        }


def export(store: Store, target: Path, *, replace: bool = False) -> Manifest:
    """Write every exported table of `store` under `target`; all or nothing."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        if not (replace and (target / MANIFEST).is_file()):
            raise BadInput(
                f"{target}: already exists and is not empty",
                "choose a new folder, or --replace an earlier costlab export",
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with store.transaction():  # one snapshot: counts and files agree
            manifest = _write(store, work)
        (work / MANIFEST).write_text(json.dumps(manifest.as_json(), indent=2) + "\n")
        if target.is_dir():
            shutil.rmtree(target)
        work.rename(target)
    except (OSError, pa.ArrowException) as err:
        shutil.rmtree(work, ignore_errors=True)
        raise BadInput(f"{target}: cannot write the dataset, nothing was kept: {err}") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _write(store: Store, work: Path) -> Manifest:
    # Imported here: pyarrow.dataset imports pandas (~0.4 s), which `costlab ingest` of a log,
    # importing this module for the manifest's names, never needs.
    import pyarrow.dataset as ds

    tables = {}
    for name in TABLES:
        if name == PARTITIONED:
            reader = store.batches(
                "SELECT *, CAST(ts AS DATE) AS day FROM requests ORDER BY ts NULLS LAST, request_id"
            )
            partitioning = ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive")
        else:
            reader = store.batches(f"SELECT * FROM {name}")
            partitioning = None
        ds.write_dataset(
            reader,
            work / name,
            format="parquet",
            partitioning=partitioning,
            basename_template="part-{i}.parquet",
            max_partitions=MAX_PARTITIONS,
            existing_data_behavior="overwrite_or_ignore",
        )
        if not (work / name).exists():  # no rows: one empty file still gives the schema
            _write_empty(reader.schema, work / name, partitioned=partitioning is not None)
        tables[name] = count_table(store, name)
    migrations = store.migrations()
    return Manifest(
        schema_version=migrations[-1],
        migrations=migrations,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tables=tables,
    )


def _write_empty(schema: pa.Schema, folder: Path, *, partitioned: bool) -> None:
    if partitioned:
        schema = schema.remove(schema.get_field_index("day"))
        folder = folder / f"day={NULL_DAY}"
    folder.mkdir(parents=True)
    pq.write_table(schema.empty_table(), folder / "part-0.parquet")


def count_table(store: Store, name: str, source: str | None = None) -> TableCount:
    """Rows (and for requests the cost sums) of a table, or of `source` holding its rows."""
    relation = source or name
    if name != PARTITIONED:
        row = store.row(f"SELECT count(*) FROM {relation}")
        return TableCount(int(row[0]) if row else 0, {})
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in MONEY_COLUMNS)
    row = store.row(f"SELECT count(*), count(*) FILTER (WHERE ts IS NULL), {sums} FROM {relation}")
    assert row is not None
    return TableCount(
        int(row[0]),
        {c: Decimal(v) for c, v in zip(MONEY_COLUMNS, row[2:], strict=True)},
        int(row[1]),
    )


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a dataset folder, checked; BadInput naming the file when it is not one."""
    path = folder / MANIFEST
    try:
        raw = json.loads(path.read_text())
        if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format is not {FORMAT} version {FORMAT_VERSION}")
        tables = {
            name: TableCount(
                int(t["rows"]),
                {c: Decimal(t[f"{c}_sum"]) for c in MONEY_COLUMNS if f"{c}_sum" in t},
                int(t.get("no_timestamp", 0)),
            )
            for name, t in raw["tables"].items()
        }
        return Manifest(
            str(raw["schema_version"]), list(raw["migrations"]), str(raw["exported_at"]), tables
        )
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as err:
        raise BadInput(
            f"{path}: not a costlab dataset manifest ({err})",
            "point at a folder written by `costlab export`",
        ) from None
