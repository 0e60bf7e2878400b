"""`costlab ingest` of Parquet: a dataset written by `costlab export`, or flat Parquet files.

A dataset folder (it holds `manifest.json`) is checked whole before anything is stored: its schema
version must be one this costlab knows, every table's columns and types must be the store's, and
the rows and cost sums read must equal the manifest's (a missing or extra file is caught). It is
then loaded in one transaction. Rows keep every column, `request_id` and `run_id` included:
requests already stored (same id) and rows already present in the other tables are skipped, so a
second import adds nothing. The import itself is one row of `ingest_runs` (the folder, and the
sha256 of its manifest).

A Parquet file of the flat shape (the columns of a flat JSONL record: model, input_tokens,
output_tokens, ...) is read row by row into a temporary JSONL file that ingest reads like any
log, under the Parquet file's name: the same parsing, pricing and rejects. Any other Parquet
shape is refused, naming the file.
"""

from __future__ import annotations

import glob
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from costlab import dataset
from costlab.errors import BadInput, StoreError
from costlab.ingest.results import RUN_COLUMNS, FileResult
from costlab.ingest.sources import LOG_SUFFIXES, Source
from costlab.store import Store

if TYPE_CHECKING:
    import pyarrow.dataset as ds

PARQUET = ".parquet"
FLAT_COLUMNS = ("model", "input_tokens", "output_tokens")
_KEYS = {"requests": ("request_id",), "embeddings": ("text_hash", "embedder")}


@dataclass(frozen=True)
class Inputs:
    """The arguments of `costlab ingest`, sorted by how they are read."""

    datasets: list[Path]
    parquet_files: list[Path]
    logs: list[str]


def split(args: list[str]) -> Inputs:
    """Dataset folders, Parquet files (given, globbed, or a folder of them) and everything else."""
    datasets: list[Path] = []
    files: list[Path] = []
    logs: list[str] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir() and (path / dataset.MANIFEST).is_file():
            datasets.append(path)
        elif path.is_file() and path.name.endswith(PARQUET):
            files.append(path)
        elif path.is_dir() and _only_parquet(sorted(p for p in path.rglob("*") if p.is_file())):
            files += sorted(p for p in path.rglob(f"*{PARQUET}") if p.is_file())
        elif not path.exists() and _only_parquet([Path(m) for m in glob.glob(arg, recursive=True)]):
            files += sorted(Path(m) for m in glob.glob(arg, recursive=True))
        else:
            logs.append(arg)
    return Inputs(datasets, files, logs)


def _only_parquet(paths: list[Path]) -> bool:
    names = [p.name for p in paths if not p.name.startswith(".")]
    parquet = [n for n in names if n.endswith(PARQUET)]
    return bool(parquet) and not any(n.endswith(LOG_SUFFIXES) for n in names)


@contextmanager
def flat_sources(files: list[Path]) -> Iterator[list[Source]]:
    """Each flat Parquet file as a JSONL source that lives as long as the context."""
    with tempfile.TemporaryDirectory(prefix="costlab-parquet-") as tmp:
        found = []
        for i, path in enumerate(files):
            jsonl = Path(tmp) / f"{i}.jsonl"
            _to_jsonl(path, jsonl)
            found.append(Source(jsonl, str(path)))
        yield found


def _to_jsonl(path: Path, out: Path) -> None:
    try:
        parquet = pq.ParquetFile(path)
        columns = parquet.schema_arrow.names
        if "cost_source" in columns and "cost_usd" in columns:
            raise BadInput(
                f"{path}: a file of a costlab dataset's requests table, not a flat log",
                "ingest the dataset's folder (the one with manifest.json): it keeps every column",
            )
        if not all(c in columns for c in FLAT_COLUMNS):
            raise BadInput(
                f"{path}: a Parquet file of another shape (columns: {', '.join(columns[:12])})",
                "ingest reads flat Parquet files (model, input_tokens, output_tokens, "
                "timestamp, cost, ...) and folders written by `costlab export`",
            )
        with out.open("wb") as f:
            for batch in parquet.iter_batches(batch_size=10_000):
                for row in batch.to_pylist():
                    record = {k: v for k, v in row.items() if v is not None}
                    f.write(orjson.dumps(record, default=_json, option=orjson.OPT_NAIVE_UTC))
                    f.write(b"\n")
    except (OSError, pa.ArrowException, TypeError) as err:
        raise BadInput(f"{path}: cannot read this Parquet file: {err}") from None


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} value cannot be read as a log field")


def load(store: Store, folder: Path, run_id: str, force: bool = False) -> FileResult:
    """Load a dataset folder in one transaction; skipped when this manifest was loaded before."""
    manifest = dataset.read_manifest(folder)
    digest = hashlib.sha256((folder / dataset.MANIFEST).read_bytes()).hexdigest()
    out = FileResult(source=str(folder), sha256=digest, formats={dataset.FORMAT: 0})
    loaded = store.row("SELECT 1 FROM ingest_runs WHERE sha256 = ? AND status = 'loaded'", [digest])
    if loaded and not force:
        out.status = "skipped"
        return out
    _check_version(store, folder, manifest)
    started = _now()
    tables = {name: _open(store, folder, name, manifest) for name in manifest.tables}
    names = {name: f"_in_{name}" for name in tables}
    for name, table in tables.items():
        store.register(names[name], table.data)
    try:
        for name in tables:
            _check_counts(store, folder, name, names[name], manifest.tables[name])
        with store.transaction():
            for name, table in tables.items():
                _insert(store, folder, name, names[name], table.columns, out)
            out.formats = {dataset.FORMAT: out.records_read}
            _record(store, run_id, out, started)
    finally:
        for name in names.values():
            store.unregister(name)
    return out


@dataclass(frozen=True)
class _Table:
    data: ds.Dataset
    columns: list[str]  # the store's columns, in order: a name, or NULL where the file has none


def _check_version(store: Store, folder: Path, manifest: dataset.Manifest) -> None:
    unknown = [m for m in manifest.migrations if m not in store.migrations()]
    if unknown:
        raise BadInput(
            f"{folder}: written by a newer costlab (schema {manifest.schema_version})",
            "upgrade costlab to import it",
        )
    extra = [t for t in manifest.tables if t not in dataset.TABLES]
    if extra:
        raise BadInput(f"{folder}: a dataset of another shape (tables {', '.join(extra)})")


def _open(store: Store, folder: Path, name: str, manifest: dataset.Manifest) -> _Table:
    where = folder / name
    if not where.is_dir():
        raise BadInput(f"{where}: missing from the dataset (its manifest lists {name})")
    # Imported here, not at the top: pyarrow.dataset imports pandas (~0.4 s of every ingest,
    # most of the re-read of an appended file), and only a dataset folder needs it.
    import pyarrow.dataset as ds

    try:
        data = ds.dataset(
            where,
            format="parquet",
            partitioning="hive" if name == dataset.PARTITIONED else None,
            exclude_invalid_files=False,
        )
        schema = data.schema
    except (OSError, pa.ArrowException) as err:
        raise BadInput(f"{where}: cannot read this Parquet dataset: {err}") from None
    expected = store.arrow(f"SELECT * FROM {name} LIMIT 0").schema
    given = {
        f.name: f.type for f in schema if not (name == dataset.PARTITIONED and f.name == "day")
    }
    extra = [c for c in given if c not in expected.names]
    wrong = [f.name for f in expected if f.name in given and not _same(given[f.name], f.type)]
    older = manifest.schema_version != store.migrations()[-1]
    missing = [f.name for f in expected if f.name not in given]
    if extra or wrong or (missing and not older):
        problems = [("unknown columns", extra), ("other types", wrong), ("missing", missing)]
        said = "; ".join(f"{what}: {', '.join(cols)}" for what, cols in problems if cols)
        raise BadInput(
            f"{where}: a Parquet dataset of another shape ({said})",
            "costlab ingest reads datasets written by `costlab export`, unchanged",
        )
    return _Table(data, [f.name if f.name in given else "NULL" for f in expected])


def _same(given: pa.DataType, expected: pa.DataType) -> bool:
    """Types equal up to list field names and string widths (Spark writes large strings)."""
    if pa.types.is_list(expected) or pa.types.is_large_list(expected):
        listed = bool(pa.types.is_list(given) or pa.types.is_large_list(given))
        return listed and _same(given.value_type, expected.value_type)
    if pa.types.is_string(expected):
        return bool(pa.types.is_string(given) or pa.types.is_large_string(given))
    return bool(given == expected)


def _check_counts(
    store: Store, folder: Path, name: str, relation: str, listed: dataset.TableCount
) -> None:
    try:
        found = dataset.count_table(store, name, relation)
    except StoreError as err:
        raise BadInput(
            f"{folder / name}: cannot read this Parquet dataset ({err.message})"
        ) from None
    if (found.rows, found.sums) != (listed.rows, listed.sums):
        raise BadInput(
            f"{folder / name}: holds {found.rows:,} rows {_sums(found)}, its manifest says "
            f"{listed.rows:,} {_sums(listed)}",
            "a file is missing or was added; export the store again",
        )


def _sums(count: dataset.TableCount) -> str:
    return ", ".join(f"{c} {v}" for c, v in count.sums.items()) or ""


def _insert(
    store: Store, folder: Path, name: str, relation: str, columns: list[str], out: FileResult
) -> None:
    """Add the rows of one table not already stored; a failure names the table's folder."""
    try:
        _insert_new(store, name, relation, columns, out)
    except StoreError as err:
        raise BadInput(
            f"{folder / name}: cannot be loaded, nothing was stored ({err.message})",
            "export the store again; a dataset written by `costlab export` loads as it is",
        ) from None


def _insert_new(
    store: Store, name: str, relation: str, columns: list[str], out: FileResult
) -> None:
    select = ", ".join(f'"{c}"' if c != "NULL" else c for c in columns)
    keys = _KEYS.get(name)
    if keys is None:  # no key: a row already there (as a whole) is not added again
        store.execute(
            f"INSERT INTO {name} SELECT {select} FROM {relation} EXCEPT ALL SELECT * FROM {name}"
        )
        return
    match = " AND ".join(f"t.{k} = i.{k}" for k in keys)
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE _new AS SELECT {select} FROM {relation} i "
        f"WHERE NOT EXISTS (SELECT 1 FROM {name} t WHERE {match})"
    )
    if name == dataset.PARTITIONED:
        row = store.row(
            f"SELECT (SELECT count(*) FROM {relation}), count(*), coalesce(sum(cost_usd), 0), "
            "count(*) FILTER (WHERE len(flags) > 0), count(*) FILTER (WHERE ts IS NULL) FROM _new"
        )
        assert row is not None
        out.records_read, out.added, out.spend_usd, out.flagged, out.no_timestamp = row
        out.duplicate = out.records_read - out.added
    store.execute(f"INSERT INTO {name} SELECT * FROM _new")
    store.execute("DROP TABLE _new")


def _record(store: Store, run_id: str, out: FileResult, started: datetime) -> None:
    store.execute(
        f"INSERT INTO ingest_runs ({RUN_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 'loaded')",
        [
            run_id,
            out.source,
            out.sha256,
            started,
            _now(),
            out.records_read,
            out.added,
            out.duplicate,
            out.flagged,
            out.no_timestamp,
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
