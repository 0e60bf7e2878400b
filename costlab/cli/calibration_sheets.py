"""Token counts against bills (`tokens calibrate`, the report's calibration) as sheets."""

from __future__ import annotations

import dataclasses

from costlab import calibration
from costlab.calibration import Calibration, ModelCheck, Ratio
from costlab.cli import render
from costlab.cli.render import Sheet


def sheets(result: Calibration) -> list[Sheet]:
    """Per model, then per tokenizer family; none when no request could be compared."""
    if not result.compared:
        return []
    models = Sheet(
        f"Token counts against billed input tokens ({result.compared:,} requests compared, "
        f"at most {result.sample:,} per model)",
        ["model", "counted with", "compared", "of", "median error", "P95 |error|",
         "billed per cl100k token"],
        [_model_row(m) for m in result.models],
        right=2,
    )  # fmt: skip
    families = Sheet(
        f"Tokens per cl100k token by tokenizer family (route-replay uses a measured ratio from "
        f"{result.min_requests} requests compared, else the table)",
        ["family", "measured", "compared", "table", "route-replay uses"],
        [_family_row(r) for r in result.families],
        right=1,
    )
    excluded = Sheet(
        "Requests not compared, by reason",
        ["model", "excluded"],
        [[m.model, _excluded(m.excluded)] for m in result.models if m.excluded],
    )
    return [models, families, *([excluded] if excluded.rows else [])]


def notes(result: Calibration) -> list[str]:
    """What a reader must know to read the sheets, or why there are none."""
    if not result.compared:
        excluded = _excluded(
            {k: sum(m.excluded.get(k, 0) for m in result.models) for k in _reasons(result)}
        )
        return [
            "no comparable requests: calibration needs requests logged with their messages and "
            "the input tokens billed" + (f" (excluded: {excluded})" if excluded else "")
        ]
    return [
        "error = (counted - billed) / billed per request; OpenAI models are counted exactly "
        "(their encoding and the documented chat framing: 3 tokens a message, 1 for a name, 3 "
        "for the reply), other models as cl100k_base x the table ratio. Requests with tools, "
        "tool calls, images, audio or files, or through the Responses API are excluded: their "
        "framing is not documented."
    ]


def show(result: Calibration, as_json: bool) -> None:
    """Print the calibration as tables and notes, or as JSON."""
    if as_json:
        render.print_json(dataclasses.asdict(result))
        return
    render.show(sheets(result), "table")
    for line in notes(result):
        render.out.print(line, markup=False)


def _model_row(m: ModelCheck) -> list[str]:
    return [
        m.model,
        m.encoding,
        render.count(m.compared),
        render.count(m.requests),
        _pct(m.median_error, signed=True),
        _pct(m.p95_abs_error),
        _ratio(m.ratio),
    ]


def _family_row(r: Ratio) -> list[str]:
    uses = f"measured {r.median:.3f}" if r.measured else f"table {r.table:g}"
    return [r.name, _ratio(r), render.count(r.requests), f"{r.table:g}", uses]


def _ratio(r: Ratio | None) -> str:
    return "—" if r is None else f"{r.median:.3f} (95% CI {r.low:.3f}–{r.high:.3f})"


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _excluded(reasons: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in reasons.items() if n)


def _reasons(result: Calibration) -> list[str]:
    return [
        r for r in calibration.framing.EXCLUSIONS if any(r in m.excluded for m in result.models)
    ]
