"""The cost–quality frontier: dominated candidates are off it, ties are on it together."""

from __future__ import annotations

import random
from decimal import Decimal

from costlab.routing.frontier import on_frontier


def flags(*points: tuple[str, float | None]) -> list[bool]:
    return on_frontier([(Decimal(cost), quality) for cost, quality in points])


def test_a_policy_cheaper_and_better_than_another_takes_its_place() -> None:
    # b is dearer and worse than a; c is dearer than a but better: a trade-off, on it
    assert flags(("1.00", 8.0), ("2.00", 7.5), ("3.00", 9.0)) == [True, False, True]


def test_as_good_for_more_or_as_cheap_for_less_is_dominated() -> None:
    assert flags(("1.00", 8.0), ("1.50", 8.0)) == [True, False]  # same quality, dearer
    assert flags(("1.00", 8.0), ("1.00", 7.0)) == [True, False]  # same cost, worse


def test_candidates_alike_in_cost_and_quality_are_on_it_together() -> None:
    assert flags(("1.00", 8.0), ("1.00", 8.0), ("0.50", 7.0)) == [True, True, True]
    assert flags(("2.00", 8.0), ("2.00", 8.0), ("1.00", 8.0)) == [False, False, True]


def test_unknown_quality_is_never_on_it_and_hides_nothing() -> None:
    assert flags(("0.10", None), ("1.00", 8.0)) == [False, True]
    assert flags(("0.10", None)) == [False]
    assert on_frontier([]) == []


def test_it_agrees_with_the_definition_on_many_random_candidates() -> None:
    rng = random.Random(7)
    for _ in range(200):
        # a small grid of costs and qualities, so ties of every kind happen
        points = [
            (Decimal(rng.randint(0, 6)) / 4, rng.choice([None, *range(5)]))
            for _ in range(rng.randint(1, 12))
        ]
        expected = [
            quality is not None
            and not any(
                q is not None and c <= cost and q >= quality and (c < cost or q > quality)
                for c, q in points
            )
            for cost, quality in points
        ]
        assert on_frontier(points) == expected, points
