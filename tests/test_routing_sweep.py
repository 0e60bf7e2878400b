"""Sweeps: the curve's ends are the all-weak and all-strong policies; APGR; calibration."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import ingest, prices, sources
from costlab.errors import BadInput
from costlab.routing import compare, outcomes, policy, sweep
from costlab.store import Store

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
    script = ROOT / "scripts" / "routellm_logs.py"
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
