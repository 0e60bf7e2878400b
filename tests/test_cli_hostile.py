"""The CLI facing hostile logs and user slips: printable output, honest exit codes, JSON errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from costlab.cli import render
from tests.conftest import Cli, flat, write_jsonl

TITLE = "\x1b]0;pwned\x07"  # sets the terminal window title
CLEAR = "\x1b[2J"  # clears the screen
BIDI = "\u202e"  # right-to-left override


def test_printable_makes_every_control_visible_one_for_one() -> None:
    text = f"a{TITLE}b{CLEAR}c{BIDI}d\x9b\x7f\te\nf"
    shown = render.printable(text)
    assert len(shown) == len(text)
    assert not any(ch in shown for ch in "\x1b\x07\x9b\x7f\t\n" + BIDI)
    assert shown.startswith("a␛]0;pwned␇b␛[2Jc")
    assert render.printable("x\ny", lines=True) == "x\ny"


def test_log_text_cannot_drive_the_terminal(tmp_path: Path, cli: Cli) -> None:
    records = [
        flat(1, feature=TITLE + "chat", prompt=CLEAR + "hello " + BIDI + "abc"),
        flat(2, feature='=HYPERLINK("http://x")', user_id="@SUM(A1)"),
    ]
    path = write_jsonl(tmp_path / "a.jsonl", records)
    with path.open("ab") as f:
        f.write(b'{"prompt": "raw \x1b[2J byte", \n')  # a raw ESC: malformed JSON, rejected
    assert cli("ingest", str(path)).exit_code == 0
    outputs = [
        cli("report"),
        cli("report", "top"),
        cli("report", "breakdown"),
        cli("report", "--format", "markdown"),
        cli("report", "--format", "csv"),
        cli("rejects"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert not any(ch in result.stdout for ch in ("\x1b", "\x07", BIDI)), result.stdout
    assert "␛]0;pwned␇chat" in outputs[2].stdout
    cells = [c for row in csv.reader(io.StringIO(outputs[4].stdout)) for c in row]
    assert '\'=HYPERLINK("http://x")' in cells and "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "@")) for c in cells)
    assert json.loads(cli("rejects", "--json").stdout)  # JSON escapes controls itself
