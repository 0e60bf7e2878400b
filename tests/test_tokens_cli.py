"""`costlab tokens check | update` through the real CLI, in a throwaway git repository."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app

ROOT = Path(__file__).parents[1]
# cl100k_base counts, checked against tiktoken: "You are a helpful assistant." is 6 tokens.
ASSISTANT = "You are a helpful assistant."


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repo with two templates, a config, and a committed baseline."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support.txt").write_text(ASSISTANT)
    (tmp_path / "prompts" / "summary.j2").write_text("Summarise the document:\n{{ document }}\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.costlab.tokens]\npaths = ["prompts/**/*.txt", "prompts/**/*.j2"]\n'
        'max_increase = "10%"\n'
    )
    _git(tmp_path, "init", "-q")
    assert run("tokens", "update").exit_code == 0
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "baseline")
    return tmp_path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_update_writes_a_sorted_stable_baseline(repo: Path) -> None:
    text = (repo / "costlab-tokens.json").read_text()
    support = hashlib.md5(ASSISTANT.encode()).hexdigest()
    assert text.startswith(
        '{\n  "costlab_tokens_baseline": 1,\n  "templates": {\n    "prompts/summary.j2": {\n'
    )
    assert (
        '    "prompts/support.txt": {\n      "encoding": "cl100k_base",\n'
        f'      "md5": "{support}",\n      "tokens": 6\n    }}\n  }}\n}}\n'
    ) in text
    assert run("tokens", "update").exit_code == 0
    assert (repo / "costlab-tokens.json").read_text() == text  # no diff when nothing changed


def test_unchanged_templates_pass(repo: Path) -> None:
    result = run("tokens", "check")
    assert result.exit_code == 0, result.output
    assert "2 templates" in result.output and "2 unchanged" in result.output


def test_growth_past_the_limit_fails_with_an_annotation_on_the_file(repo: Path) -> None:
    (repo / "prompts" / "support.txt").write_text(ASSISTANT + " Always answer in French.")
    result = run("tokens", "check", "--format", "github")
    assert result.exit_code == 1, result.output
    assert (
        "::error file=prompts/support.txt,line=1,title=costlab tokens::prompts/support.txt: "
        "grew 6 → 11 tokens (+5, +83.3%25), over the allowed +10%25"
    ) in result.stdout.splitlines()
    assert "over their token limits" in result.stderr


def test_growth_within_the_limit_passes_near_the_limit_warns(repo: Path) -> None:
    (repo / "prompts" / "support.txt").write_text(ASSISTANT + " Be kind.")  # 6 → 9 tokens
    assert run("tokens", "check", "--max-increase", "5 tokens").exit_code == 0
    result = run("tokens", "check", "--max-increase", "3", "--format", "github")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("::warning file=prompts/support.txt,line=1,")
    assert "near the allowed +3 tokens" in result.stdout


def test_a_new_template_is_listed_and_a_deleted_one_noted(repo: Path) -> None:
    (repo / "prompts" / "triage.txt").write_text("Classify the ticket.")
    _git(repo, "rm", "-q", "prompts/summary.j2")
    # The last .j2 template is gone: its glob matches nothing, which needs --allow-empty.
    assert run("tokens", "check").exit_code == 2
    result = run("tokens", "check", "--allow-empty")
    assert result.exit_code == 0, result.output
    assert "prompts/triage.txt" in result.output and "new template" in result.output
    assert "prompts/summary.j2" in result.output and "removed" in result.output
    github = run("tokens", "check", "--format", "github", "--allow-empty").stdout
    assert "::notice file=prompts/triage.txt,line=1,title=costlab tokens::" in github
    assert "::notice title=costlab tokens::prompts/summary.j2: removed" in github


def test_an_absolute_budget_fails_new_templates_too(repo: Path) -> None:
    (repo / "prompts" / "long.txt").write_text(" ".join(["word"] * 50))
    result = run("tokens", "check", "--max-tokens", "20", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    long = next(t for t in report["templates"] if t["id"] == "prompts/long.txt")
    assert long["status"] == "new" and long["verdict"] == "fail"
    assert long["reasons"] == ["50 tokens, over the budget of 20"]
    assert report["passed"] is False


def test_a_dollar_budget_prices_the_template_at_the_models_input_price(repo: Path) -> None:
    (repo / "prompts" / "long.txt").write_text(" ".join(["word"] * 50))
    # gpt-4: $30 per 1M input tokens, so 50 tokens cost $0.0015 a call.
    flags = ("--model", "gpt-4", "--max-usd-per-call", "0.001", "--format", "json")
    result = run("tokens", "check", *flags)
    assert result.exit_code == 1
    long = next(t for t in json.loads(result.stdout)["templates"] if t["id"] == "prompts/long.txt")
    assert long["usd_per_call"] == "0.00150"
    assert long["reasons"] == ["$0.001500 per call at gpt-4, over the budget of $0.001 per call"]


def test_a_corrupt_baseline_is_exit_2_with_a_clear_message(repo: Path) -> None:
    (repo / "costlab-tokens.json").write_text('{"templates": [')
    result = run("tokens", "check")
    assert result.exit_code == 2
    assert "costlab-tokens.json is not a costlab token baseline: not valid JSON" in result.stderr
    assert "costlab tokens update" in result.stderr
    assert "Traceback" not in result.output


def test_a_path_that_matches_nothing_fails_the_gate(repo: Path) -> None:
    result = run("tokens", "check", "nomatch/**/*.txt")
    assert result.exit_code == 2
    assert "nomatch/**/*.txt: matches no prompt template" in result.stderr
    assert "removed" not in result.stdout
    allowed = run("tokens", "check", "nomatch/**/*.txt", "--allow-empty")
    assert allowed.exit_code == 0 and "removed" in allowed.stdout


def test_a_missing_baseline_or_a_config_typo_is_exit_2(repo: Path) -> None:
    result = run("tokens", "check", "--baseline", "elsewhere.json")
    assert result.exit_code == 2 and "no token baseline at elsewhere.json" in result.stderr
    (repo / "pyproject.toml").write_text('[tool.costlab.tokens]\nmax_increse = "10%"\n')
    result = run("tokens", "check")
    assert result.exit_code == 2 and "tool.costlab.tokens.max_increse" in result.stderr
    assert run("tokens", "check", "prompts", "--max-increase", "lots").exit_code == 2


def test_a_model_without_a_known_encoding_says_how_to_count_it(repo: Path) -> None:
    result = run("tokens", "check", "prompts", "--model", "claude-3-5-sonnet")
    assert result.exit_code == 2 and "claude-3-5-sonnet" in result.stderr
    assert 'encoding = "cl100k_base"' in result.stderr


def test_github_format_appends_a_markdown_table_to_the_step_summary(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = repo / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    (repo / "prompts" / "support.txt").write_text(ASSISTANT + " Always answer in French.")
    assert run("tokens", "check", "--format", "github").exit_code == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n## costlab tokens: 1 template(s) over the limit")
    assert "| template | encoding | baseline | now | Δ tokens | Δ % | verdict | why |" in text
    assert "| prompts/support.txt | cl100k_base | 6 | 11 | +5 | +83.3% | ✗ fail |" in text


def test_markdown_format_is_a_pull_request_comment(repo: Path) -> None:
    (repo / "prompts" / "support.txt").write_text("Hi.")
    result = run("tokens", "check", "--format", "markdown")
    assert result.exit_code == 0
    assert result.stdout.startswith("## costlab tokens: all templates within limits")
    assert "| prompts/support.txt | cl100k_base | 6 | 2 | -4 | -66.7% | ok |" in result.stdout


def test_vars_render_templates_with_fixture_values(repo: Path) -> None:
    fixtures = {"*": {"document": "The quarterly report, in full."}}
    (repo / "fixtures.json").write_text(json.dumps(fixtures))
    result = run("tokens", "check", "--vars", "fixtures.json", "--format", "json")
    summary = next(t for t in json.loads(result.stdout)["templates"] if "summary" in t["id"])
    # "Summarise the document:\nThe quarterly report, in full.\n" is 13 tokens; as written, 9.
    assert summary["tokens"] == 13 and summary["baseline_tokens"] == 9


def test_check_does_not_import_torch_or_the_store(repo: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from costlab.cli import app\n"
        "result = CliRunner().invoke(app, ['tokens', 'check'])\n"
        "assert result.exit_code == 0, result.output\n"
        "names = ('torch', 'sentence_transformers', 'transformers', 'llmlingua', 'sklearn',\n"
        "         'duckdb', 'numpy', 'pandas')\n"
        "print(','.join(m for m in names if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == ""


def test_only_changed_templates_are_tokenized_again(repo: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from costlab.cli import app\n"
        "CliRunner().invoke(app, ['tokens', 'check'])\n"
        "print('tiktoken' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", code]
    unchanged = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert unchanged.stdout.strip() == "False"
    (repo / "prompts" / "support.txt").write_text("Hi.")
    changed = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert changed.stdout.strip() == "True"


def test_a_baseline_count_without_its_md5_is_counted_again(repo: Path) -> None:
    path = repo / "costlab-tokens.json"
    data = json.loads(path.read_text())
    data["templates"]["prompts/support.txt"] = {"encoding": "cl100k_base", "tokens": 3}
    path.write_text(json.dumps(data))
    result = run("tokens", "check", "--format", "json")
    support = next(t for t in json.loads(result.stdout)["templates"] if "support" in t["id"])
    assert support["tokens"] == 6 and support["verdict"] == "fail"


def test_the_pre_commit_hook_command_runs_the_gate(repo: Path) -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "costlab-tokens")
    assert hook["pass_filenames"] is False  # the gate compares every template, not the staged
    argv = shlex.split(hook["entry"]) + hook.get("args", [])
    assert argv[0] == "costlab"
    command = [sys.executable, "-m", "costlab", *argv[1:]]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    (repo / "prompts" / "support.txt").write_text(ASSISTANT + " Always answer in French.")
    failed = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env)
    assert failed.returncode == 1
    assert "prompts/support.txt" in failed.stdout


def test_the_github_actions_example_runs_the_gate_with_annotations() -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((ROOT / "examples/github-actions/costlab-tokens.yml").read_text())
    steps = workflow["jobs"]["tokens"]["steps"]
    assert any(s.get("run") == "costlab tokens check --format github" for s in steps)


def test_gpt_4o_is_counted_exactly_with_o200k_out_of_the_box_and_stays_light(repo: Path) -> None:
    from costlab import encodings

    result = run("tokens", "update", "--model", "gpt-4o", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)["templates"]}
    assert rows["prompts/support.txt"]["encoding"] == "o200k_base"
    assert (
        rows["prompts/support.txt"]["tokens"] == encodings.load("o200k_base").count([ASSISTANT])[0]
    )
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from costlab.cli import app\n"
        "result = CliRunner().invoke(app, ['tokens', 'check', '--model', 'gpt-4o'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(','.join(m for m in ('numpy', 'duckdb', 'torch', 'quicktok') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == ""
