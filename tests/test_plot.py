"""Charts as data, drawn in characters (plot.text) and as SVG (page.scatter)."""

from __future__ import annotations

import re

import pytest

from costlab import page, plot
from tests.pages import parse

EVIL = "<script>alert(1)</script>"


def chart(*series: plot.Series, note: str = "") -> plot.Chart:
    return plot.Chart(
        "test", "A test chart", plot.Axis("cost", "usd"), plot.Axis("quality", "number"),
        series, note,
    )  # fmt: skip


def one(name: str, x: float, y: float, mark: str) -> plot.Series:
    return plot.Series(name, (plot.Point(x, y, name, (("usd", str(x)),)),), mark=mark)


def grid(text: str) -> list[str]:
    """The plot area's rows, without the y axis and its labels (left edge = column 0)."""
    lines = text.splitlines()
    bottom = next(k for k, line in enumerate(lines) if "└" in line)
    axis = lines[bottom].index("└")
    return [line[axis + 1 :] for line in lines[2:bottom]]


def test_points_land_where_their_values_put_them() -> None:
    text = plot.text(
        chart(one("cheap", 0.05, 8.3, "A"), one("dear", 2.2, 9.2, "B"), one("mid", 1.1, 8.75, "C")),
        width=60,
        height=10,
    )
    rows = grid(text)
    assert len(rows) == 10
    assert rows[-1].index("A") == 0  # the cheapest at the left edge, the worst at the bottom
    width = len(text.splitlines()[12].split("└")[1])  # the x axis: one ─ per column
    assert rows[0].endswith("B") and len(rows[0]) == width  # the dearest at the right edge
    assert len(text.splitlines()[12]) == 60  # the whole chart fits the width asked for
    middle = next(r for r, row in enumerate(rows) if "C" in row)
    assert middle in (4, 5) and abs(rows[middle].index("C") - len(rows[0]) / 2) <= 1
    assert "$0.05" in text and "$2.20" in text and "8.30" in text and "9.20" in text
    assert "  A cheap" in text and "  B dear" in text and "  C mid" in text


def test_a_mark_that_lands_on_an_earlier_one_is_named_in_the_legend() -> None:
    text = plot.text(chart(one("first", 1, 1, "A"), one("twin", 1, 1, "B"), one("x", 2, 2, "C")))
    assert "B twin (hidden under A)" in text and "A first\n" in text
    assert "B" not in "".join(grid(text))


def test_lines_are_braille_and_dotted_lines_have_gaps() -> None:
    points = (plot.Point(0, 0), plot.Point(1, 1))
    solid = grid(plot.text(chart(plot.Series("s", points, line="solid")), width=40, height=6))
    dotted = grid(plot.text(chart(plot.Series("d", points, line="dotted")), width=40, height=6))
    braille = re.compile("[\u2801-\u28ff]")
    assert braille.match(solid[-1][0]) and braille.match(solid[0][-1])  # corner to corner
    dots = sum(bin(ord(c) - 0x2800).count("1") for row in dotted for c in row if braille.match(c))
    full = sum(bin(ord(c) - 0x2800).count("1") for row in solid for c in row if braille.match(c))
    assert 0 < dots < full / 2
    legend = plot.text(chart(plot.Series("d", points, line="dotted")))
    assert "⠂⠂ d" in legend


def test_nothing_to_draw_says_so() -> None:
    text = plot.text(chart(plot.Series("empty", ()), note="Quality unknown: x."))
    assert "nothing to draw" in text and "Quality unknown" in text
    assert "nothing to draw" in page.scatter(chart(plot.Series("empty", ())))


def test_ticks_are_round_and_cover_the_values() -> None:
    assert plot.ticks(8.341, 9.228) == pytest.approx([8.25, 8.5, 8.75, 9.0, 9.25])
    assert plot.ticks(0.0593, 2.178, steps=6) == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5])
    assert plot.ticks(0, 1000) == [0, 250, 500, 750, 1000]
    assert [plot.label(v, "usd", 0.5) for v in (0, 1.5)] == ["$0.00", "$1.50"]
    assert [plot.label(v, "usd", 1) for v in (0, 2)] == ["$0", "$2"]
    assert [plot.label(v, "share", 0.25) for v in (0, 0.75)] == ["0%", "75%"]
    assert plot.label(8.25, "number", 0.25) == "8.25"


def test_the_svg_places_the_points_and_escapes_their_text() -> None:
    evil = plot.Series(
        EVIL, (plot.Point(3, 9, EVIL, (("usd", "3"), ("policy", EVIL), ('x" onload="', "1"))),),
        mark="B",
    )  # fmt: skip
    ring = plot.Series("frontier", (plot.Point(1, 8), plot.Point(3, 9)), line="solid", dot="ring")
    svg = page.scatter(chart(one("cheap", 1, 8, "A"), evil, ring))
    assert EVIL not in svg and "&lt;script&gt;" in svg and "onload" not in svg
    marks = parse(svg).marks["test"]
    assert [a["data-usd"] for _, a in marks] == ["3", "1"]  # the rings are not data marks
    cx = {a["data-usd"]: float(str(a["cx"])) for _, a in marks}
    cy = {a["data-usd"]: float(str(a["cy"])) for _, a in marks}
    assert cx["1"] < cx["3"] and cy["1"] > cy["3"]  # up is better
    assert svg.count('fill="none" stroke=') == 3  # the line and two rings
