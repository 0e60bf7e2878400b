"""The spend-log rows DuckDB maps in SQL (ingest/bulk/litellm_spend.py) are stored exactly as the
per-record path (the reference) stores them, on a real PostgreSQL server: the sample spend logs
and edge rows (nulls, odd metadata, cache tokens, failed calls, rows the mapping must refuse)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from costlab import ingest as file_ingest
from costlab import postgres, prices
from costlab.ingest import bulk
from costlab.ingest.staging import StageBatch
from costlab.store import Store
from tests.postgres_fixtures import insert, spend_rows
from tests.postgres_server import Server
from tests.test_postgres import _differences, _stored, _url

_RUN_COLUMNS = "records_read, added, duplicate, rejected, flagged, no_timestamp, status"


def _edge_rows() -> list[dict[str, Any]]:
    """Rows the sample does not show, each from the first sample row; `refused` marks those the
    SQL mapping must leave to the per-record path."""
    base = spend_rows()[0]
    rows: list[tuple[dict[str, Any], bool]] = []

    def add(refused: bool, **changes: Any) -> None:
        row = copy.deepcopy(base) | {"request_id": f"edge-{len(rows)}"} | changes
        rows.append((row, refused))

    meta = base["metadata"]
    # Nulls wherever the table allows them.
    add(False, metadata=None, messages=None, response=None, custom_llm_provider=None)
    add(False, end_user=None, user=None, team_id=None, status=None, request_duration_ms=None)
    add(False, end_user="", user="u-fallback", team_id="", api_base=None, model_group=None)
    add(False, completionStartTime=None, session_id=None, request_tags=None)
    # Odd metadata: quotes, backslashes, unicode, nested values of every type, odd shapes.
    add(False, metadata={'a"b': "x\\y", "é": "ünï €", "n": [1, 2.5, None, True], "o": {}})
    add(
        False,
        metadata=meta | {"requester_metadata": "not an object", "user_api_key_team_alias": "Ops"},
    )
    add(
        False,
        metadata=meta
        | {"requester_metadata": {"feature": ""}, "spend_logs_metadata": {"feature": "x"}},
    )
    add(
        False,
        metadata=meta | {"requester_metadata": None, "spend_logs_metadata": {"feature": "sp"}},
    )
    add(False, metadata=[1, 2, 3])
    add(False, metadata={"float": 1e-05, "big": 12345678901234567890, "s": "tab\there\nnl"})
    add(False, metadata=meta | {"status": "failure"}, status=None)
    add(False, metadata=meta | {"status": "failure"}, status="success")
    add(True, metadata=meta | {"requester_metadata": {"feature": 7}})  # text(7): "7"
    add(True, metadata='{"feature": "in a string"}')  # a JSONB string the parser decodes
    # Cache tokens: read, write, the 5m/1h split (and a mismatched one), more than the prompt.
    usage = {"cache_read_input_tokens": 300, "cache_creation_input_tokens": 200}
    add(False, metadata={"additional_usage_values": usage}, prompt_tokens=1000)
    split = {"ephemeral_5m_input_tokens": 50, "ephemeral_1h_input_tokens": 100}
    details = {"cache_creation_tokens": 150, "cache_creation_token_details": split}
    add(False, metadata={"additional_usage_values": {"prompt_tokens_details": details}})
    details = {"cache_creation_tokens": 999, "cache_creation_token_details": split}
    add(False, metadata={"additional_usage_values": {"prompt_tokens_details": details}})
    add(False, metadata={"additional_usage_values": {}, "usage_object": usage}, prompt_tokens=10)
    add(False, metadata={"usage_object": {"completion_tokens_details": {"reasoning_tokens": 999}}})
    add(False, total_tokens=5)  # total mismatch
    add(True, metadata={"additional_usage_values": {"cache_read_input_tokens": 1.5}})
    add(True, metadata={"additional_usage_values": {"cache_read_input_tokens": -3}})
    # Failed calls.
    add(False, status="failure", spend=0.0, completion_tokens=0, total_tokens=0)
    add(False, status="error", response={"error": {"message": "rate limited"}})
    # Costs: whole, in the float's shortest form, with an exponent, too large, zero.
    add(False, spend=3.0)
    add(False, spend=0.1 + 0.2)
    add(False, spend=4.2e-05)  # below 1e-4: the shortest form has an exponent
    add(False, spend=1e-05)
    add(False, spend=6.97512e-06)
    add(True, spend=1.23456789e-09)  # sent with an exponent (JSON written back)
    add(True, spend=1.5e-10)
    add(True, spend=1.2345678912e-05)  # more digits than the SQL path writes out
    add(True, spend=2e6)  # rejected: over the plausible cost
    # Messages and responses.
    messages = [
        {"role": "system", "content": "Be brief.\nAnd kind."},
        {"role": "developer", "content": ""},
        {"role": "system", "content": None},
        {"role": "user", "content": 'first "quoted" \\ question'},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
        {"role": "user", "content": "último 🙂"},
    ]
    answer = {"choices": [{"message": {"role": "assistant", "content": "ok \\ done"}}]}
    add(False, messages=messages, response=answer)
    add(False, messages=[{"role": "assistant", "content": "no user"}], response={"choices": []})
    add(False, messages=[], response={"choices": [{"message": {"content": ""}}]})
    add(False, messages=["not a message", 5, {"role": "user"}])
    add(True, messages=[{"role": "user", "content": [{"type": "text", "text": "parts"}]}])
    add(True, response={"choices": [{"message": {"content": [{"text": "parts"}]}}]})
    add(True, response="a response kept as a JSON string")
    add(True, messages="[]")
    # Rows the per-record path rejects or re-identifies.
    add(True, model="")
    add(True, prompt_tokens=-5)
    add(True, completion_tokens=2_000_000_000)  # over the plausible limit
    add(True, request_id="")  # no id: a content hash of the row
    add(False, request_id='id "with" \\ escapes ✓')
    add(False, request_duration_ms=0)
    # Text the CSV the SQL path reads must quote: commas, quotes, line breaks, control
    # characters, spaces, an empty string beside a null, text that looks like a null marker.
    add(False, api_key='a,b "c"\nd\re', cache_key="\x01ctl\x1f\x0b", model_group="  spaced  ")
    add(False, user='u,"1"\n', end_user=None, call_type="", model_id=None, api_base="\\N")
    add(False, custom_llm_provider='"', team_id="\\", session_id="NULL")
    marked = [row | {"_refused": refused} for row, refused in rows]
    return marked


@pytest.fixture
def loaded(server: Server, database: str) -> tuple[str, list[dict[str, Any]]]:
    rows = spend_rows() + _edge_rows()
    insert(server.url(db=database), [{k: v for k, v in r.items() if k != "_refused"} for r in rows])
    return _url(server, database), rows


def _ingest(url: str, monkeypatch: pytest.MonkeyPatch, fast: bool) -> tuple[Store, list[int]]:
    parsed: list[int] = []
    real_add = StageBatch.add

    def add(self: StageBatch, line: Any) -> str | None:
        parsed.append(line.number)
        return real_add(self, line)

    with monkeypatch.context() as patch:
        patch.setattr(StageBatch, "add", add)
        if not fast:
            patch.setattr(bulk, "chunked", lambda stream, options: None)
        store = Store.open(":memory:")
        source = postgres.DatabaseSource(url)
        postgres.ingest(store, source, file_ingest.IngestOptions(), prices.Catalogue.load(), "r")
    return store, parsed


def test_the_sql_mapping_stores_what_the_per_record_path_stores(
    loaded: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, rows = loaded
    fast, left_to_python = _ingest(url, monkeypatch, fast=True)
    reference, parsed = _ingest(url, monkeypatch, fast=False)
    with fast, reference:
        assert len(parsed) == len(rows)
        assert _differences(_stored(fast), _stored(reference)) == []
        assert len(_stored(fast)) > len(rows) - 10
        for table, columns in (
            ("rejects", "source_line, reason, raw, raw_bytes"),
            ("ingest_runs", _RUN_COLUMNS + ", watermark_ts, watermark_ids"),
            ("requests", "request_id, metadata, messages, source_line"),
        ):
            query = f"SELECT {columns} FROM {table} ORDER BY ALL"
            if table != "requests":
                assert fast.rows(query) == reference.rows(query), table
        # Which rows Python parsed: exactly those the mapping must refuse (in file order).
        order = reference.rows("SELECT request_id, source_line FROM requests")
        line_of = dict(order)
        refused = {r["request_id"] for r in rows if r.get("_refused")}
        python_ids = {rid for rid, line in line_of.items() if line in left_to_python}
        refused |= {rid for rid in line_of if rid.startswith("content:")}  # the row with no id
        assert python_ids <= refused
        sql_ids = set(line_of) - python_ids
        assert not (sql_ids & refused)
        assert len(left_to_python) >= 10  # the refused rows, rejected ones included


def test_a_refused_row_in_a_large_table_keeps_its_place(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows over several chunks, refused ones among them: same rows, lines and watermark."""
    from costlab.postgres import reader

    base = spend_rows()[0]
    rows = []
    for i in range(120):
        row = base | {
            "request_id": f"r{i:04d}",
            "startTime": f"2027-05-01T00:{i // 60:02d}:{i % 60:02d}.000Z",
        }
        if i % 7 == 0:
            row["spend"] = 5e-11  # refused: a tiny exponent
        if i % 11 == 0:
            row["prompt_tokens"] = -1  # rejected
        rows.append(row)
    insert(server.url(db=database), rows)
    monkeypatch.setattr(reader, "CHUNK_ROWS", 25)
    url = _url(server, database)
    fast, _ = _ingest(url, monkeypatch, fast=True)
    reference, _ = _ingest(url, monkeypatch, fast=False)
    with fast, reference:
        assert _differences(_stored(fast), _stored(reference)) == []
        query = "SELECT request_id, source_line FROM requests ORDER BY 2"
        assert fast.rows(query) == reference.rows(query)
        for table, columns in (("rejects", "source_line, reason"), ("ingest_runs", _RUN_COLUMNS)):
            query = f"SELECT {columns} FROM {table} ORDER BY ALL"
            assert fast.rows(query) == reference.rows(query)


def test_columns_of_other_types_are_read_as_row_to_json_writes_them(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns a LiteLLM version may add, of types other than text, JSON and whole numbers
    (sent by the server as `to_json`): the SQL path keeps what the per-record path keeps."""
    import psycopg

    url = server.url(db=database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            'ALTER TABLE "LiteLLM_SpendLogs" ADD COLUMN flagged boolean, ADD COLUMN tags text[], '
            "ADD COLUMN seen_at timestamptz, ADD COLUMN ratio numeric, ADD COLUMN note varchar(20)"
        )
    insert(url, spend_rows()[:3])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE \"LiteLLM_SpendLogs\" SET flagged = true, tags = ARRAY['a,b', 'c\"d', NULL], "
            "seen_at = '2027-01-02 03:04:05.678+02', ratio = 'NaN', note = 'x, \"y\"' "
            'WHERE request_id = (SELECT min(request_id) FROM "LiteLLM_SpendLogs")'
        )
    fast, left_to_python = _ingest(_url(server, database), monkeypatch, fast=True)
    reference, _ = _ingest(_url(server, database), monkeypatch, fast=False)
    with fast, reference:
        assert _differences(_stored(fast), _stored(reference)) == []
        kept = "SELECT metadata->>'tags', metadata->>'seen_at', metadata->>'ratio' FROM requests"
        assert sorted(fast.rows(kept), key=str) == sorted(reference.rows(kept), key=str)
        assert ('["a,b","c\\"d",null]', "2027-01-02T01:04:05.678+00:00", "NaN") in [
            tuple(r) for r in reference.rows(kept)
        ]
        assert left_to_python == []  # the SQL path took every row


def test_a_read_cut_off_mid_table_writes_nothing_and_the_next_run_reads_it_all(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection lost after some chunks were mapped: one error, no row, reject or run kept,
    the watermark of the run before; the next run reads every row, its watermark the last."""
    import psycopg

    from costlab.errors import BadInput
    from costlab.postgres import reader, watermark

    base = spend_rows()[0]
    first = [base | {"request_id": "r-first", "startTime": "2027-05-01T00:00:00.000Z"}]
    insert(server.url(db=database), first)
    url = _url(server, database)
    label = postgres.target.parse(url).label
    later = [
        base
        | {"request_id": f"r{i:03d}", "startTime": f"2027-05-02T00:{i // 60:02d}:{i % 60:02d}.000Z"}
        | ({"prompt_tokens": -1} if i == 40 else {})  # rejected, in the middle chunk
        for i in range(90)
    ]
    monkeypatch.setattr(reader, "CHUNK_ROWS", 25)
    options, catalogue = file_ingest.IngestOptions(), prices.Catalogue.load()
    with Store.open(":memory:") as store:
        source = postgres.DatabaseSource(url, overlap=timedelta(0))
        postgres.ingest(store, source, options, catalogue, "one")  # the watermark to keep
        insert_mark = watermark.last(store, label)
        assert insert_mark is not None and insert_mark.request_ids == ("r-first",)
        insert(server.url(db=database), later)
        real_copy = reader.Table._copy

        def cut_off(self: Any, *args: Any) -> Any:
            for n, chunk in enumerate(real_copy(self, *args)):
                if n == 2:
                    raise psycopg.OperationalError("server closed the connection unexpectedly")
                yield chunk

        with monkeypatch.context() as patch:
            patch.setattr(reader.Table, "_copy", cut_off)
            with pytest.raises(BadInput, match="reading the table failed .*server closed"):
                postgres.ingest(store, source, options, catalogue, "cut")
        assert store.rows("SELECT count(*) FROM requests WHERE run_id = 'cut'") == [(0,)]
        assert store.rows("SELECT count(*) FROM rejects") == [(0,)]
        assert store.rows("SELECT count(*) FROM ingest_runs WHERE run_id = 'cut'") == [(0,)]
        assert watermark.last(store, label) == insert_mark
        again = postgres.ingest(store, source, options, catalogue, "again")
        assert (again.records_read, again.added, again.rejected) == (90, 89, 1)
        rejected = store.rows("SELECT source_line FROM rejects WHERE run_id = 'again'")
        assert rejected == [(41,)]
        mark = watermark.last(store, label)
        assert mark is not None and mark.request_ids == ("r089",)


def test_a_row_longer_than_duckdbs_default_line_is_mapped_in_sql(
    server: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row past DuckDB's default CSV line size (2 MiB), a 3 MB conversation, is still read and
    mapped in SQL, as the per-record path maps it (a chunk's read must allow its longest line)."""
    base = spend_rows()[0]
    long_text = "a long conversation, " * (3_000_000 // 21)
    long_row = base | {
        "request_id": "r-long",
        "messages": [{"role": "user", "content": long_text}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "ok"}}]},
    }
    insert(server.url(db=database), [*spend_rows()[1:3], long_row])
    fast, left_to_python = _ingest(_url(server, database), monkeypatch, fast=True)
    reference, _ = _ingest(_url(server, database), monkeypatch, fast=False)
    with fast, reference:
        assert _differences(_stored(fast), _stored(reference)) == []
        long_prompt = "SELECT length(prompt) FROM requests WHERE request_id = 'r-long'"
        assert fast.rows(long_prompt) == [(len(long_text),)]
        assert left_to_python == []  # the SQL path took every row, the long one too
