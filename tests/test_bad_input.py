"""The bad-input corpus (tests/data/bad/): each file's documented outcome, and a fuzz of fields.

One file per case; the "Bad input" table of docs/ingest.md says the same in words. A change in
what costlab does with any of them fails here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costlab import ingest
from costlab.ingest import IngestOptions, bulk, sources
from costlab.prices import Catalogue
from costlab.store import Store
from tests.conftest import Cli, flat
from tests.test_bulk import COLUMNS

BAD = Path(__file__).parent / "data" / "bad"


@dataclass(frozen=True)
class Outcome:
    """What `costlab ingest FILE --json` does with one file of the corpus."""

    exit_code: int
    status: str = "loaded"
    added: int = 0
    rejected: int = 0
    duplicate: int = 0
    conflicting: int = 0
    reasons: tuple[str, ...] = ()  # the start of each reject's reason, in line order
    args: tuple[str, ...] = ()
    flags: dict[str, int] = field(default_factory=dict)


TRUNCATED = "compressed stream is truncated or corrupt"
LIMIT = "over the plausible limit of 100,000,000 per request"
MALFORMED = "malformed JSON"
CASES: dict[str, Outcome] = {
    "token_count_over_2_63.jsonl": Outcome(0, added=2, rejected=1, reasons=(
        "token count 'uncached_input_tokens' is 1e+30, " + LIMIT,)),
    "token_count_implausible.jsonl": Outcome(3, rejected=1, reasons=(
        "token count 'output_tokens' is 4.6e+18, " + LIMIT,)),
    "secrets_in_bad_line.jsonl": Outcome(0, added=1, rejected=1, reasons=(MALFORMED,),
                                         args=("--redact",)),
    "terminal_escapes.jsonl": Outcome(0, added=2),
    "zstd_cut_before_first_block.jsonl.zst": Outcome(3, rejected=1, reasons=(TRUNCATED,)),
    "zstd_cut_midway.jsonl.zst": Outcome(3, rejected=1, reasons=(TRUNCATED,)),
    "gzip_cut_midway.jsonl.gz": Outcome(0, added=182, rejected=1, reasons=(TRUNCATED,)),
    "json_document_cut.json": Outcome(3, rejected=1, reasons=("truncated JSON document",)),
    "image.png": Outcome(3, "refused", rejected=1, reasons=("not a log: a PNG image",)),
    "image_named_as_log.jsonl": Outcome(3, "refused", rejected=1, reasons=(
        "not a log: a PNG image",)),
    "binary_nul_bytes.log": Outcome(3, "refused", rejected=1, reasons=(
        "not a log: binary data (NUL bytes)",)),
    "empty.jsonl": Outcome(3, "refused", rejected=1, reasons=("no record in it",)),
    "blank_lines_only.jsonl": Outcome(3, "refused", rejected=1, reasons=("no record in it",)),
    "empty_array.json": Outcome(3, "refused", rejected=1, reasons=("no record in it",)),
    "duplicate_identical.jsonl": Outcome(0, added=1, duplicate=1),
    "duplicate_conflicting.jsonl": Outcome(0, added=1, conflicting=1),
    "malformed_lines.jsonl": Outcome(0, added=1, rejected=5, reasons=(
        MALFORMED, MALFORMED, MALFORMED, "record is a JSON list, not an object",
        "record is a JSON str, not an object")),
    "non_utf8.jsonl": Outcome(0, added=1, rejected=1, reasons=("not valid UTF-8: byte 0xe9",)),
    "wrong_types.jsonl": Outcome(3, rejected=7, reasons=(
        "token count 'input_tokens' is str, not a number", "missing model",
        "token count 'output_tokens' is negative: -5",
        "token count 'output_tokens' is not a whole number: 1.5",
        "'cost' is not a number: 'lots'", "missing model",
        "token count 'input_tokens' is bool, not a number")),
    "odd_timestamps.jsonl": Outcome(0, added=5, rejected=4, flags={"no_timestamp": 2}, reasons=(
        "'timestamp' is not a time: 'yesterday'",
        "'timestamp' is not a time: '2026-13-45T00:00:00Z'",
        "'timestamp' is out of range: 1e+30", "'timestamp' is a boolean, not a time")),
    "wrapped_request_response.jsonl": Outcome(0, added=1),
    "envelope_object.json": Outcome(3, rejected=1, reasons=(
        "unknown format: no known log format has these keys (data)",)),
    "unknown_shape.jsonl": Outcome(3, rejected=2, reasons=("unknown format",) * 2),
    "plain_text.log": Outcome(3, "refused", rejected=1, reasons=(
        "not a log: no line of it is JSON (line 1: malformed JSON",)),
    "bom_crlf.jsonl": Outcome(0, added=3),
    "deeply_nested.jsonl": Outcome(0, added=1, rejected=1, reasons=(
        "malformed JSON: depth limit exceeded",)),
    "cost_out_of_range.jsonl": Outcome(3, rejected=2, reasons=(
        "'cost' must be an amount from 0 to 1000000 USD",) * 2),
}  # fmt: skip


def test_every_corpus_file_has_a_documented_outcome() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(CASES)
    page = (Path(__file__).parents[1] / "docs" / "ingest.md").read_text(encoding="utf-8")
    missing = [name for name in CASES if f"`{name}`" not in page]
    assert not missing, f"add to the Bad input table of docs/ingest.md: {missing}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_ingest_of_a_bad_file_has_its_documented_outcome(name: str, cli: Cli) -> None:
    expected = CASES[name]
    result = cli("ingest", str(BAD / name), "--json", *expected.args)
    assert result.exit_code == expected.exit_code, result.output
    assert "Traceback" not in result.output
    summary = json.loads(result.stdout)
    (found,) = summary["files"]
    counts = {k: found[k] for k in ("added", "rejected", "duplicate", "conflicting")}
    wanted = {k: getattr(expected, k) for k in counts}
    assert (found["status"], counts) == (expected.status, wanted)
    assert found["flags"] == expected.flags
    assert ("error" in summary) == (expected.exit_code == 3)
    listed = json.loads(cli("rejects", "--json").stdout)["rejects"]
    reasons = [r["reason"] for r in listed]
    assert len(reasons) == len(expected.reasons)
    for reason, start in zip(reasons, expected.reasons, strict=True):
        assert reason.startswith(start), (reason, start)
    if "--redact" in expected.args:
        assert all("jane.doe" not in (r["raw"] or "") for r in listed)


def test_a_huge_line_and_a_looping_link(tmp_path: Path, cli: Cli) -> None:
    # Generated here: a 17 MB line does not belong in the repository, git keeps links poorly.
    huge = tmp_path / "huge_line.jsonl"
    huge.write_text(
        json.dumps(flat(1)) + "\n" + json.dumps(flat(2, prompt="x" * 17_000_000)) + "\n"
    )
    result = cli("ingest", str(huge), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["totals"]["rejected"] == 1
    listed = json.loads(cli("rejects", "--json").stdout)["rejects"]
    assert "over the 16 MB limit" in listed[0]["reason"] and len(listed[0]["raw"]) == 4096
    loop = tmp_path / "loop.jsonl"
    os.symlink(loop, loop)
    looped = cli("ingest", str(loop))
    assert looped.exit_code == 2 and "a symbolic link that loops or points nowhere" in (
        looped.output
    )
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(flat(3)) + "\n")
    os.symlink(folder, folder / "up")  # a directory loop: not followed
    assert cli("ingest", str(folder)).exit_code == 0


# The fuzz: flat records whose every field may be of the wrong type, out of range or hostile.
# The bulk path (DuckDB SQL) and the per-record path (Python) must agree on every one of them.
_TEXT = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "\x1b[2J", "\u202e", "a\x00b", "=cmd()", "é", "\\", '"']),
)
_NUMBER = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 200, 10**8, 10**8 + 1, 4_600_000_000_000_000_000, 2**63]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e30, 1.5, -0.0, 1e15]),
    st.text(max_size=6),
)
_TIMESTAMP = st.one_of(
    _NUMBER,
    st.sampled_from(
        [
            "2026-11-05T10:00:00Z",
            "2026-11-05 10:00:00",
            "2026-11-05T10:00:00.123456+00:00",
            "2026-11-05T10:00:00+05:00",
            "2026-13-45T00:00:00Z",
            "yesterday",
            "1762336800",
            1762336800000,
        ]
    ),
)
_RECORD = st.fixed_dictionaries(
    {"model": st.one_of(_TEXT, st.sampled_from(["gpt-4o-mini", "gpt-4o", "acme-9"]))},
    optional={
        "request_id": _TEXT,
        "timestamp": _TIMESTAMP,
        "input_tokens": _NUMBER,
        "output_tokens": _NUMBER,
        "cached_input_tokens": _NUMBER,
        "reasoning_tokens": _NUMBER,
        "cost": _NUMBER,
        "duration_ms": _NUMBER,
        "batch": st.one_of(st.booleans(), _TEXT),
        "feature": _TEXT,
        "user_id": _TEXT,
        "status": _TEXT,
        "prompt": _TEXT,
        "response": _TEXT,
        "extra": st.one_of(_TEXT, _NUMBER),
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(_RECORD, min_size=1, max_size=8))
def test_fuzzed_records_never_crash_and_both_paths_agree(
    records: list[dict[str, object]],
    tmp_path: Path,
    catalogue: Catalogue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "fuzz.jsonl"
    # Valid flat records with every key first: the bulk path samples them and takes the file.
    lines = [orjson.dumps(flat(i) | _EVERY_KEY) for i in range(3)]
    path.write_bytes(b"\n".join(lines + [_dumps(r) for r in records]) + b"\n")
    outcomes = []
    for use_bulk in (True, False):
        with monkeypatch.context() as patch:
            if not use_bulk:
                patch.setattr(bulk, "eligible", lambda *args: False)
            with Store.open(":memory:") as store:
                result = ingest.ingest(
                    store, sources.expand([str(path)]), IngestOptions(), catalogue
                )
                outcomes.append(
                    (
                        [(f.added, f.rejected, f.duplicate, f.conflicting) for f in result.files],
                        store.rows(f"SELECT {COLUMNS} FROM requests ORDER BY source_line"),
                        store.rows("SELECT source_line, reason FROM rejects ORDER BY 1"),
                    )
                )
    assert outcomes[0] == outcomes[1]


_EVERY_KEY = {
    "cached_input_tokens": 10,
    "reasoning_tokens": 0,
    "cost": 0.001,
    "batch": False,
    "status": "ok",
    "response": "fine",
    "extra": 1,
}


def _dumps(record: dict[str, object]) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # an integer over 64 bits: JSON can hold it, orjson cannot write it
        return json.dumps(record).encode()
