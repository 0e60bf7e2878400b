"""`costlab route-replay` and `costlab ingest-outcomes` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli, flat, write_jsonl

POLICY = """\
name = "cheap"
default = "logged"

[models."gpt-4o"]
quality = { general = 8.0 }

[[rules]]
name = "support to gpt-4o"
when = "feature = 'support'"
route_to = "gpt-4o"
"""

POLICY_YAML = """\
name: cheap
default: logged
models:
  gpt-4o:
    quality: {general: 8.0}
rules:
  - name: support to gpt-4o
    when: feature = 'support'
    route_to: gpt-4o
"""


def setup(cli: Cli, tmp_path: Path) -> tuple[Path, Path]:
    logs = write_jsonl(tmp_path / "log.jsonl", [flat(n) for n in range(20)])
    assert cli("ingest", str(logs)).exit_code == 0
    scores = [{"request_id": f"req-{n}", "model": "gpt-4o-mini", "score": 7} for n in range(20)]
    outcomes = write_jsonl(tmp_path / "outcomes.jsonl", scores)
    strong = tmp_path / "strong.toml"
    strong.write_text('default = "gpt-4o"\n[models."gpt-4o"]\nquality = { general = 9.0 }\n')
    cheap = tmp_path / "cheap.toml"
    cheap.write_text(POLICY)
    return outcomes, cheap


def test_ingest_outcomes_then_replay_as_tables(cli: Cli, tmp_path: Path) -> None:
    outcomes, cheap = setup(cli, tmp_path)
    loaded = cli("ingest-outcomes", str(outcomes))
    assert loaded.exit_code == 0, loaded.output
    assert "20 outcomes, for 20 logged requests" in loaded.output
    result = cli(
        "route-replay", "--policy", str(cheap), "--policy", str(tmp_path / "strong.toml"),
        "--min-quality", "7.5", "--recommend",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Routing policies over 20 requests" in result.output
    assert "cheap ◀" in result.output  # 7.5 mean quality: 10 at 7 (exact), 10 at 8 (profile)
    assert "support to gpt-4o" in result.output and "first match wins" in result.output


def test_replay_as_json(cli: Cli, tmp_path: Path) -> None:
    outcomes, cheap = setup(cli, tmp_path)
    cli("ingest-outcomes", str(outcomes), "--json")
    result = cli("route-replay", "--policy", str(cheap), "--json", "--seed", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    policy = data["policies"][0]
    assert data["requests"] == 20 and policy["name"] == "cheap"
    assert policy["rules"][0]["took"] == 10 and policy["rules"][1]["route_to"] == "logged"
    assert policy["quality"] == 7.5 and policy["quality_estimated_share"] == 0.5
    assert isinstance(policy["after_usd"], str)  # exact decimals as strings
    assert set(policy["savings_ci"]) == {"low", "high"}


def test_bad_input_exits_2_with_a_clear_message(cli: Cli, tmp_path: Path) -> None:
    _, cheap = setup(cli, tmp_path)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('default = "gpt-17"\n')
    bad_rule = tmp_path / "bad.toml"
    bad_rule.write_text(POLICY.replace("feature = 'support'", "featur = 'support'"))
    no_model = tmp_path / "o.csv"
    no_model.write_text("request_id,score\nreq-1,3\n")
    for args, message in [
        (("route-replay", "--policy", str(unknown)), "routes to unknown model 'gpt-17'"),
        (("route-replay", "--policy", str(bad_rule)), "bad.toml, line 9: rules[0].when"),
        (("route-replay", "--policy", str(cheap), "--recommend"), "--recommend needs"),
        (("route-replay",), "no policy to replay"),
        (("ingest-outcomes", str(no_model)), "o.csv, line 1: missing model"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_a_swept_policy_prints_its_curve_and_calibration(cli: Cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    swept = tmp_path / "swept.toml"
    swept.write_text(
        'default = "gpt-4o-mini"\n[[rules]]\nwhen = "hash(request_id) % 100 >= {t}"\n'
        'route_to = "gpt-4o"\n'
    )
    result = cli(
        "route-replay", "--policy", str(swept), "--sweep", "t=0:100:6", "--calibrate", "0.5"
    )
    assert result.exit_code == 0, result.output
    assert "APGR" in result.output and "calibrated to 50.0% strong calls" in result.output
    as_json = json.loads(
        cli("route-replay", "--policy", str(swept), "--sweep", "t=0:100:6", "--json").output
    )
    points = as_json["sweeps"][0]["points"]
    assert [p["threshold"] for p in points] == [0, 20, 40, 60, 80, 100]
    assert points[0]["strong_share"] == 1.0
    bad = cli("route-replay", "--policy", str(swept), "--sweep", "t=0:1")
    assert bad.exit_code == 2 and "NAME=FROM:TO:STEPS" in bad.output


def test_charts_follow_the_tables_and_html_writes_them_on_one_page(
    cli: Cli, tmp_path: Path
) -> None:
    _, cheap = setup(cli, tmp_path)
    swept = tmp_path / "swept.toml"
    swept.write_text(
        'name = "by <hash>"\ndefault = "gpt-4o-mini"\n[[rules]]\n'
        'when = "hash(request_id) % 100 >= {t}"\nroute_to = "gpt-4o"\n'
        '[models."gpt-4o"]\nquality = { general = 9.0 }\n'
        '[models."gpt-4o-mini"]\nquality = { general = 6.0 }\n'
    )
    strong = tmp_path / "strong.toml"
    page = tmp_path / "route.html"
    args = ["--policy", str(cheap), "--policy", str(strong), "--policy", str(swept)]
    shown = cli("route-replay", *args, "--sweep", "t=0:100:6", "--html", str(page))
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert out.index("Routing policies over") < out.index("Cost and quality of every candidate")
    assert "by <hash>: quality against strong calls" in out and "Pareto frontier:" in out
    assert "A cheap: $" in out and "B strong: $" in out and "C by <hash>:" in out
    written = page.read_text(encoding="utf-8")
    assert written.startswith("<!doctype html>") and "by &lt;hash&gt;" in written
    assert 'data-chart="candidates"' in written and 'data-chart="sweep-1"' in written
    as_json = cli("route-replay", *args, "--sweep", "t=0:100:6", "--json")
    data = json.loads(as_json.stdout)  # nothing but JSON on stdout
    on = {p["name"] for p in data["frontier"]}
    assert {"strong", "by <hash> (all)", "by <hash> (none)"} <= on
    assert all(p["on_frontier"] for p in data["frontier"])
    bad = cli("route-replay", "--policy", str(cheap), "--html", str(tmp_path / "no" / "x.html"))
    assert bad.exit_code == 2 and "cannot write" in bad.output


def test_a_yaml_policy_replays_as_its_toml_twin(cli: Cli, tmp_path: Path) -> None:
    outcomes, cheap = setup(cli, tmp_path)
    cli("ingest-outcomes", str(outcomes))
    as_yaml = tmp_path / "cheap.yaml"
    as_yaml.write_text(POLICY_YAML)
    results = [cli("route-replay", "--policy", str(p), "--json") for p in (cheap, as_yaml)]
    assert [r.exit_code for r in results] == [0, 0], results[1].output
    from_toml, from_yaml = (json.loads(r.output)["policies"][0] for r in results)
    assert from_yaml == from_toml | {"path": str(as_yaml)}
    assert from_yaml["rules"][0]["took"] == 10
    table = cli("route-replay", "--policy", str(as_yaml))
    assert table.exit_code == 0 and "support to gpt-4o" in table.output


def test_a_bad_yaml_policy_exits_2_naming_file_line_and_field(cli: Cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    for text, message in [
        (POLICY_YAML + "default: gpt-4o\n", "bad.yml, line 10: default: duplicate key"),
        (POLICY_YAML.replace("feature =", "featur ="), "bad.yml, line 8: rules[0].when"),
        (POLICY_YAML.replace("8.0}", "8.0"), "bad.yml, line 6: not valid YAML"),
    ]:
        bad = tmp_path / "bad.yml"
        bad.write_text(text)
        result = cli("route-replay", "--policy", str(bad))
        assert result.exit_code == 2, (text, result.output)
        assert message in result.output and "Traceback" not in result.output
    # the last hint, shown as written rather than eaten as rich markup
    assert "hint: see docs for route-replay policy files: name, default, [models.NAME]" in (
        cli("route-replay", "--policy", str(bad)).output
    )
