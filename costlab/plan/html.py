"""`costlab plan --html`: the plan as one self-contained page (see costlab.page).

The waterfall chart draws the logged spend, each applied lever's stacked saving as a bar hanging
from the spend left before it, and the spend after all of them; every bar carries `data-usd`
for the browser tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from costlab import page
from costlab.page import money
from costlab.plan.result import Plan

_LEFT, _RIGHT, _TOP, _BOTTOM, _HEIGHT = 90, 20, 16, 44, 320
TOTAL, SAVED, GAINED = page.PALETTE[0], page.PALETTE[2], page.PALETTE[8]


def render(plan: Plan, generated_at: datetime | None = None) -> str:
    """The whole plan as one HTML document (a string)."""
    when = generated_at or datetime.now(UTC)
    header = (
        "<header><h1>Savings plan</h1>"
        f"<p>{plan.requests:,} requests over {plan.days:,.1f} days; levers stacked per request "
        "in the order cache → routing → compression → prefix cache → batch.</p>"
        f'<p class="generated">Generated {when:%Y-%m-%d %H:%M:%S %Z} by costlab.</p></header>'
    )
    ci = plan.after_usd_ci
    cards = [
        ("logged spend", money(plan.logged_usd, 2)),
        ("after the plan", money(plan.after_usd, 2)),
        ("95 % interval", "—" if ci is None else f"{money(ci[0], 2)} … {money(ci[1], 2)}"),
        ("saved", money(plan.logged_usd - plan.after_usd, 2)),
    ]
    first = f'<p class="note"><strong>{escape(plan.first)}</strong></p>' if plan.first else ""
    sections = [
        page.cards(cards),
        first,
        page.section("Spend, lever by lever", waterfall(plan)),
        page.section(
            "Levers",
            _steps(plan),
            "Standalone: the lever alone on the logged traffic (its own command's figure); "
            "stacked: what it adds after the levers before it.",
        ),
        "".join(f'<p class="note">{escape(n)}</p>' for n in plan.notes),
    ]
    return page.document("costlab plan", header, "".join(sections))


def waterfall(plan: Plan) -> str:
    """Logged spend, a hanging bar per applied lever, and the spend after them."""
    applied = [s for s in plan.steps if s.status == "applied"]
    bars: list[tuple[str, Decimal, Decimal, str]] = [("logged", Decimal(0), plan.logged_usd, TOTAL)]
    left = plan.logged_usd
    for s in applied:
        after = left - s.saved_usd
        bars.append((s.lever, min(left, after), max(left, after),
                     SAVED if s.saved_usd >= 0 else GAINED))  # fmt: skip
        left = after
    bars.append(("after", Decimal(0), plan.after_usd, TOTAL))
    top = float(max([plan.logged_usd, *(b[2] for b in bars)])) or 1.0
    width = (page.WIDTH - _LEFT - _RIGHT) / len(bars)
    plot = _HEIGHT - _TOP - _BOTTOM

    def y(usd: Decimal) -> float:
        return _TOP + plot * (1 - max(float(usd), 0.0) / top)

    parts = []
    for k, (name, low, high, colour) in enumerate(bars):
        x = _LEFT + k * width + width * 0.15
        amount = high - low
        parts.append(
            f'<rect x="{x:.1f}" y="{y(high):.1f}" width="{width * 0.7:.1f}" '
            f'height="{max(y(low) - y(high), 1.0):.1f}" fill="{colour}" data-usd="{amount}" '
            f'data-step="{escape(name)}"><title>{escape(name)}: {escape(money(amount))}</title>'
            f'</rect><text x="{x + width * 0.35:.1f}" y="{_HEIGHT - _BOTTOM + 18}" '
            f'text-anchor="middle" class="label">{escape(name)}</text>'
            f'<text x="{x + width * 0.35:.1f}" y="{y(high) - 4:.1f}" text-anchor="middle" '
            f'class="value">{escape(money(amount, 2))}</text>'
        )
    parts.append(
        f'<text x="{_LEFT - 8}" y="{_TOP + 4}" text-anchor="end" class="label">'
        f"{escape(money(Decimal(repr(top)), 2))}</text>"
    )
    legend = [
        ("total", TOTAL, "spend"),
        ("saved", SAVED, "saved by the lever (stacked)"),
        ("gained", GAINED, "added by the lever"),
    ]
    svg = page.svg("Waterfall: spend after each lever", _HEIGHT, "".join(parts))
    return page.figure("waterfall", svg, legend)


def _steps(plan: Plan) -> str:
    rows = []
    for s in plan.steps:
        risk = "—" if s.risk is None else f"{s.risk.measure}: {s.risk.value}"
        rank = str(plan.ranking.index(s.lever) + 1) if s.status == "applied" else "—"
        rows.append([
            rank, s.lever, s.status, money(s.saved_usd, 2),
            "—" if s.standalone_saved_usd is None else money(s.standalone_saved_usd, 2),
            f"{s.share_of_spend:.1%}", money(s.monthly_saved_usd, 2), risk, s.action,
            "; ".join(s.notes),
        ])  # fmt: skip
    headers = ["rank", "lever", "status", "stacked", "standalone", "of spend", "a month", "risk",
               "change", "notes"]  # fmt: skip
    return page.table(headers, rows, "rllrrrrlll")
