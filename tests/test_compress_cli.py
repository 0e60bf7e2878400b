"""`costlab compress` end to end: inputs, outputs, the report, the store, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costlab.compress import lingua
from tests.conftest import DATA, Cli, FakeEmbedder, flat, write_jsonl

SENTIMENT = DATA / "compress" / "sentiment_fewshot.txt"
SYSTEM = (
    "You are Lumen's   support assistant.\n\n\n\nAlways answer politely and keep it short.\n"
    "Always answer politely and keep it short.\nThe customer is {name}."
)


def _prompts(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    (folder / "nested").mkdir(parents=True)
    (folder / "support.md").write_text(SYSTEM)
    (folder / "nested" / "sentiment.jinja").write_text(SENTIMENT.read_text())
    (folder / "chat.json").write_text(
        json.dumps({"model": "gpt-4o", "system": SYSTEM, "temperature": 0.2}, indent=4)
    )
    (folder / "chat.yaml").write_text(
        f"name: chat\nsystem: |\n  {SYSTEM.replace(chr(10), chr(10) + '  ')}\n"
    )
    return folder


def test_a_folder_is_compressed_into_a_mirror(cli: Cli, tmp_path: Path) -> None:
    folder = _prompts(tmp_path)
    out = tmp_path / "out"
    result = cli("compress", str(folder), "--method", "minify", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["chat.json", "chat.yaml", "nested/sentiment.jinja", "support.md"]
    assert report["totals"]["written"] == 4 and report["totals"]["saved_tokens"] > 0
    chat = json.loads((out / "chat.json").read_text())
    assert chat["model"] == "gpt-4o" and chat["temperature"] == 0.2
    assert chat["system"].count("Always answer") == 1 and chat["system"].endswith("{name}.")
    assert (out / "chat.yaml").read_text().startswith("name: chat\nsystem: |")
    assert (folder / "support.md").read_text() == SYSTEM  # inputs untouched


def test_fewshot_table_and_markdown_report(
    cli: Cli, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    args = ["compress", str(SENTIMENT), "--method", "minify,fewshot", "--embedder", "fake"]
    table = cli(*args)
    assert table.exit_code == 0, table.output
    assert "8 → 1" in table.stdout and "total (1)" in table.stdout
    markdown = cli(*args, "--format", "markdown")
    assert markdown.stdout.startswith("### Compressed templates")
    assert "| sentiment_fewshot.txt |" in markdown.stdout
    assert fake_embedder.texts == 16  # 8 examples, embedded once per run


def test_gzip_is_measured_and_never_written(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "compress", str(SENTIMENT), "--method", "gzip", "--out", str(tmp_path / "o"), "--json"
    )
    row = json.loads(result.stdout)["templates"][0]
    assert row["tokens_after"] > row["tokens_before"] and not row["written"]
    assert not (tmp_path / "o" / "sentiment_fewshot.txt").exists()


def test_a_template_that_loses_a_placeholder_is_reported_not_written(
    cli: Cli, tmp_path: Path
) -> None:
    # The {pet} example is the outlier: cutting to one example drops it, and its placeholder.
    text = (
        "Describe.\n<example>cats purr softly</example>\n"
        "<example>cats purr softly and sleep</example>\n<example>{pet} barks</example>\n{q}"
    )
    (tmp_path / "p.txt").write_text(text)
    (tmp_path / "q.txt").write_text(SYSTEM)
    out = tmp_path / "out"
    result = cli(
        "compress", str(tmp_path / "p.txt"), str(tmp_path / "q.txt"), "--method", "fewshot",
        "--embedder", "lexical", "--out", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["templates"]}
    assert rows["p.txt"]["problem"] == "placeholder {pet} lost" and not rows["p.txt"]["written"]
    assert not (out / "p.txt").exists() and (out / "q.txt").exists()


def test_out_may_not_overwrite_an_input_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "q.txt").write_text(SYSTEM)
    result = cli("compress", str(tmp_path / "q.txt"), "--out", str(tmp_path))
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert (tmp_path / "q.txt").read_text() == SYSTEM


def test_from_store_writes_originals_and_prices_the_month(cli: Cli, tmp_path: Path) -> None:
    records = [
        flat(n, system_prompt=SYSTEM.replace("{name}", "a customer"), input_tokens=2000)
        for n in range(30)
    ]
    log = write_jsonl(tmp_path / "log.jsonl", records)
    assert cli("ingest", str(log)).exit_code == 0
    out = tmp_path / "out"
    result = cli("compress", "--from-store", "--top", "3", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["templates"][0]
    assert row["name"].startswith("system-")
    assert row["price_source"] == "logged" and row["saved_usd_month"] is not None
    assert float(row["saved_usd_month"]) > 0
    assert (out / "originals" / row["name"]).read_text().startswith("You are Lumen's")
    assert (out / row["name"]).exists()


def test_a_template_file_found_in_the_store_gets_its_volume(cli: Cli, tmp_path: Path) -> None:
    head = "You are Lumen's support assistant. Always answer politely and keep it short, always. "
    records = [flat(n, system_prompt=head + f"The customer is c{n}.") for n in range(10)]
    assert cli("ingest", str(write_jsonl(tmp_path / "l.jsonl", records))).exit_code == 0
    (tmp_path / "t.txt").write_text(head + "The customer is {name}.")
    result = cli("compress", str(tmp_path / "t.txt"), "--json")
    row = json.loads(result.stdout)["templates"][0]
    assert row["requests_per_month"] is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty template"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
        (b"Hello {name, how are you?", "unbalanced braces"),
        (b"\xff\xfe broken", "not UTF-8"),
    ],
)
def test_bad_templates_stop_the_run_before_anything_is_written(
    cli: Cli, tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text(SYSTEM)
    (tmp_path / "in" / "bad.txt").write_bytes(content)
    result = cli("compress", str(tmp_path / "in"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in result.stderr and "bad.txt" in result.stderr
    assert not (tmp_path / "out").exists()


def test_out_inside_the_input_folder_is_refused(cli: Cli, tmp_path: Path) -> None:
    folder = _prompts(tmp_path)
    result = cli("compress", str(folder), "--out", str(folder / "compressed"))
    assert result.exit_code == 2 and "inside the input folder" in result.stderr
    assert not (folder / "compressed").exists()


def test_missing_model_paths_and_methods_are_clear(cli: Cli, tmp_path: Path) -> None:
    given = cli(
        "compress", str(SENTIMENT), "--method", "llmlingua2", "--model", str(tmp_path / "no")
    )
    assert given.exit_code == 2 and "no model folder there" in given.stderr
    perplexity = cli("compress", str(SENTIMENT), "--method", "llmlingua")
    assert perplexity.exit_code == 2 and "needs --model PATH" in perplexity.stderr
    unknown = cli("compress", str(SENTIMENT), "--method", "zip")
    assert unknown.exit_code == 2 and "not a method" in unknown.stderr
    late = cli("compress", str(SENTIMENT), "--method", "gzip,minify")
    assert late.exit_code == 2 and "gzip must come last" in late.stderr


def test_the_default_llmlingua2_model_missing_names_it_and_how_to_provide_it(
    cli: Cli, tmp_path: Path
) -> None:
    try:
        lingua._locate("llmlingua2", None)
        pytest.skip("the default LLMLingua-2 model is installed here")
    except Exception:  # noqa: BLE001 - the BadInput asserted below through the CLI
        pass
    result = cli("compress", str(SENTIMENT), "--method", "llmlingua2", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert lingua.DEFAULT_LLMLINGUA2 in result.stderr and "--model PATH" in result.stderr
    assert not (tmp_path / "o").exists()


def test_no_input_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    assert cli("compress").exit_code == 2
    assert "no such file" in cli("compress", str(tmp_path / "missing.txt")).stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no template files" in cli("compress", str(empty)).stderr
