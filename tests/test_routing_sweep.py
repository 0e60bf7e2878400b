"""Sweeps: the curve's ends are the all-weak and all-strong policies; APGR; calibration; the
frontier of every candidate, and the charts and page that show it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import ingest, plot, prices
from costlab.errors import BadInput
from costlab.ingest import sources
from costlab.routing import charts, compare, frontier, html, outcomes, policy, sweep
from costlab.store import Store
from tests.pages import chromium, parse, run_chromium

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data" / "routellm_mt_bench"
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
WEAK_MODEL = f'[models."{WEAK}"]\nprice_as = "together_ai/{WEAK}"\n'
SWEPT = (
    f'default = "{WEAK}"\n{WEAK_MODEL}'
    f'[[rules]]\nwhen = "complexity >= {{t}}"\nroute_to = "{STRONG}"\n'
    "[sweep]\nt = { from = 0, to = 1.01, steps = 21 }\n"
)


@pytest.fixture(scope="module")
def mt_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    tmp = tmp_path_factory.mktemp("sweep")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ROOT / "scripts" / "samples" / "routellm_logs.py"
    subprocess.run(
        [sys.executable, str(script), "--data", str(DATA), "--out", str(tmp)], check=True, env=env
    )
    catalogue = prices.Catalogue.load()
    with Store.open(tmp / "mt.duckdb") as store:
        ingest.ingest(
            store, sources.expand([str(tmp / "logs.jsonl")]), ingest.IngestOptions(), catalogue
        )
        outcomes.ingest(store, tmp / "outcomes.jsonl", catalogue)
        yield store, tmp


def load(tmp: Path, name: str, text: str) -> policy.Policy:
    path = tmp / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return policy.load(path, prices.Catalogue.load())


def test_the_curve_ends_are_the_all_weak_and_all_strong_policies(
    mt_bench: tuple[Store, Path],
) -> None:
    store, tmp = mt_bench
    catalogue = prices.Catalogue.load()
    result = sweep.run(store, catalogue, load(tmp, "swept", SWEPT), sweep.SweepOptions())
    strong = load(tmp, "strong", f'default = "{STRONG}"\n')
    weak = load(tmp, "weak", f'default = "{WEAK}"\n{WEAK_MODEL}')
    both = compare.run(store, catalogue, [strong, weak], compare.CompareOptions(resamples=0))
    s, w = both.policies
    assert len(result.points) == 21 and result.requests == 160
    first, last = result.points[0], result.points[-1]  # t = 0: all strong; t = 1.01: none
    assert (first.cost_usd, first.strong_share) == (s.after_usd, 1.0)
    assert (last.cost_usd, last.strong_share) == (w.after_usd, 0.0)
    assert first.quality == pytest.approx(s.quality) and last.quality == pytest.approx(w.quality)
    assert result.all.cost_usd == s.after_usd and result.none.cost_usd == w.after_usd
    assert first.pgr == pytest.approx(1.0) and last.pgr == pytest.approx(0.0)
    shares = [p.strong_share for p in result.points]
    assert shares == sorted(shares, reverse=True)  # a higher threshold: fewer strong calls
    assert result.apgr is not None and 0 < result.apgr < 1
    assert any(p.pareto for p in result.points)


def test_calibration_hits_the_target_share(mt_bench: tuple[Store, Path]) -> None:
    store, tmp = mt_bench
    swept = load(tmp, "swept", SWEPT)
    for target in (0.2, 0.5):
        options = sweep.SweepOptions(target_share=target)
        result = sweep.run(store, prices.Catalogue.load(), swept, options)
        assert result.calibrated is not None and result.calibrated.threshold is not None
        assert result.calibrated.strong_share == pytest.approx(target, abs=0.03)


def point(share: float, pgr: float, cost: int = 1) -> sweep.SweepPoint:
    return sweep.SweepPoint(None, share, Decimal(cost), None, None, pgr)


def test_apgr_and_the_calls_for_each_share_of_the_gap_by_hand() -> None:
    # PGR 0 at no strong calls, 0.6 at 20 %, 0.9 at 50 %, 1 at all: trapezoids
    # 0.2 × 0.3 + 0.3 × 0.75 + 0.5 × 0.95 = 0.06 + 0.225 + 0.475 = 0.76
    curve = [point(0, 0, 1), point(0.2, 0.6, 2), point(0.5, 0.9, 5), point(1.0, 1.0, 9)]
    assert sweep._apgr(curve) == pytest.approx(0.76)
    calls = {c.level: (c.strong_share, c.cost_usd) for c in (
        sweep._gap_calls(curve, level) for level in sweep.GAP_LEVELS)}  # fmt: skip
    assert calls == {0.5: (0.2, 2), 0.8: (0.5, 5), 0.95: (1.0, 9)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SWEPT.replace("complexity >= {t}", "{t} < complexity"),
         "line 5: rules[0].when: a rule with a parameter must read `EXPRESSION >= {t}`"),
        (SWEPT.replace("[sweep]\nt =", "[sweep]\nu ="), "sweep.u: the rule's parameter is {t}"),
        (SWEPT.replace("steps = 21", "steps = 1"), "sweep.t.steps: Input should be greater"),
        (SWEPT + f'[[rules]]\nwhen = "prompt_tokens > {{t}}"\nroute_to = "{STRONG}"\n',
         "rules[1].when: only one rule may have a parameter"),
    ],
)  # fmt: skip
def test_sweep_mistakes_name_the_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(BadInput) as err:
        load(tmp_path, "p", text)
    assert expected in err.value.message and "p.toml" in err.value.message


EVIL = "half <script>alert(1)</script>"
NEVER = (
    f'kind = "quality_aware"\ncheap = "{WEAK}"\nstrong = "{STRONG}"\nvalidator = "gpt-4o-mini"\n'
    f"escalation_rate = 0\n{WEAK_MODEL}"
)  # Mixtral answers every request and a validator is paid for: all-weak's quality, dearer
PLAIN = {
    "all-strong": f'default = "{STRONG}"\n',
    "all-weak": f'default = "{WEAK}"\n{WEAK_MODEL}',
    "validated-never": NEVER,
    "evil": f'name = "{EVIL}"\ndefault = "{STRONG}"\n{WEAK_MODEL}'
    f'[[rules]]\nwhen = "hash(request_id) % 2 < 1"\nroute_to = "{WEAK}"\n',
}

Replayed = tuple[compare.Comparison, sweep.SweepResult, list[frontier.PolicyPoint]]


@pytest.fixture(scope="module")
def replayed(mt_bench: tuple[Store, Path]) -> Replayed:
    store, tmp = mt_bench
    catalogue = prices.Catalogue.load()
    plain = [load(tmp, name, text) for name, text in PLAIN.items()]
    both = compare.run(store, catalogue, plain, compare.CompareOptions(resamples=0))
    options = sweep.SweepOptions(target_share=0.3)
    swept = sweep.run(store, catalogue, load(tmp, "swept", SWEPT), options)
    return both, swept, frontier.candidates(both, [swept])


def test_the_frontier_runs_from_all_weak_to_all_strong_without_the_dominated(
    replayed: Replayed,
) -> None:
    both, swept, points = replayed
    by_name = {p.name: p for p in points}
    assert len(points) == len(PLAIN) + len(swept.points) + 2
    costs = [p.cost_usd for p in points]
    assert costs == sorted(costs)  # cheapest first
    assert points[0].on_frontier and points[0].cost_usd == by_name["all-weak"].cost_usd
    assert by_name["all-weak"].on_frontier and by_name["all-strong"].on_frontier
    assert by_name["swept (none)"].on_frontier and by_name["swept (all)"].on_frontier  # ties
    never = by_name["validated-never"]
    assert never.quality == by_name["all-weak"].quality and never.cost_usd > points[0].cost_usd
    assert not never.on_frontier
    on = [p for p in points if p.on_frontier]
    for p in points:  # off it means some candidate on it is as cheap and as good, better in one
        assert p.on_frontier or any(
            o.cost_usd <= p.cost_usd and (o.quality or 0) >= (p.quality or 0) for o in on
        )
    pareto = {f"swept t={p.threshold:g}" for p in swept.points if p.pareto}
    assert {p.name for p in on if p.threshold is not None} <= pareto  # a subset of the sweep's


def test_the_terminal_charts_put_the_ends_at_the_corners(replayed: Replayed) -> None:
    both, swept, points = replayed
    text = plot.text(charts.candidates(both, [swept], points), width=72, height=12)
    lines = text.splitlines()
    bottom = next(k for k, line in enumerate(lines) if "└" in line)
    axis = lines[bottom].index("└")
    rows = [line[axis + 1 :] for line in lines[2:bottom]]
    letters = {p.name: "ABCD"[k] for k, p in enumerate(both.policies)}
    assert rows[-1][0] == letters["all-weak"]  # cheapest and worst: bottom left
    assert rows[0].endswith(letters["all-strong"]) and len(rows[0]) == len(lines[bottom]) - axis - 1
    assert f"{letters['validated-never']} validated-never" in text
    assert f"(hidden under {letters['all-weak']})" in text  # a hair dearer than all-weak
    assert f"{letters['all-weak']} all-weak: $0.0594, quality 8.341, on the frontier" in text
    curve = plot.text(charts.sweep_curve(swept), width=60, height=10).splitlines()
    assert curve[2].rstrip().endswith("◆") and curve[11][5:7] in ("┤◆", "│◆")
    assert "0%" in curve[13] and curve[13].rstrip().endswith("100%")


def test_the_page_draws_both_charts_and_escapes_names_and_rules(replayed: Replayed) -> None:
    both, swept, points = replayed
    page = html.render(html.Replay(both, [swept], points, recommend=False))
    assert EVIL not in page and "half &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "hash(request_id) % 2 &lt; 1" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # self-contained
    found = parse(page)
    assert set(found.figures) == {"candidates", "sweep-1"}
    dots = {str(a["data-policy"]): a for _, a in found.marks["candidates"]}
    assert len(dots) == len(points)  # every candidate has a quality here
    for p in points:
        assert Decimal(str(dots[p.name]["data-usd"])) == p.cost_usd
        assert dots[p.name]["data-frontier"] == str(p.on_frontier).lower()
    shares = [float(str(a["data-share"])) for _, a in found.marks["sweep-1"]]
    assert len(shares) == len(swept.points) + 3  # the curve, both ends and the calibrated point
    assert shares[0] == 0.0 and max(shares) == 1.0
    assert "APGR" in page and f"{swept.apgr:.3f}" in page


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium package")
def test_the_page_draws_in_a_real_browser(replayed: Replayed, tmp_path: Path) -> None:
    both, swept, points = replayed
    page = tmp_path / "route.html"
    page.write_text(html.render(html.Replay(both, [swept], points)), encoding="utf-8")
    shown = run_chromium(page, tmp_path / "profile", "--dump-dom")
    assert shown.returncode == 0, shown.stderr[-2000:]
    figures = parse(shown.stdout).figures
    assert {c: f["data-drawn"] for c, f in figures.items()} == {
        "candidates": str(len(points)),
        "sweep-1": str(len(swept.points) + 3),
    }
