"""Exact sums of many requests' costs, vectorised: no float, no Decimal loop per request.

A cost (DECIMAL(38, 18) in the store) is split into whole micro-dollars and the remaining
attodollars, two int64 arrays; numpy sums each exactly (a micro-dollar part stays far below
2**63 for any realistic log, and so does the attodollar part, each item < 10**12), and the two
sums recombine into the exact Decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal

import numpy as np
import numpy.typing as npt

_ATTO_PER_MICRO = 10**12
_WIDE = Context(prec=80)  # no sum of realistic costs has this many digits: nothing rounds


@dataclass(frozen=True, eq=False)
class Dollars:
    """Per request: its cost as whole micro-dollars plus attodollars (both int64)."""

    micro: npt.NDArray[np.int64]
    atto: npt.NDArray[np.int64]

    @classmethod
    def of(cls, costs: Sequence[Decimal | None]) -> Dollars:
        """Costs with at most 18 decimals (a missing cost counts as 0)."""
        parts = [divmod(_attodollars(c), _ATTO_PER_MICRO) for c in costs]
        return cls(
            np.array([m for m, _ in parts], dtype=np.int64),
            np.array([a for _, a in parts], dtype=np.int64),
        )

    def sum(self, index: npt.NDArray[np.int64] | None = None) -> Decimal:
        """The exact sum over `index` (all requests when None)."""
        micro = self.micro if index is None else self.micro[index]
        atto = self.atto if index is None else self.atto[index]
        return _decimal(int(micro.sum()), int(atto.sum()))

    def sum_by(self, groups: npt.NDArray[np.int64], count: int) -> list[Decimal]:
        """The exact sum of each group 0..count-1 (`groups` gives each request's group)."""
        micro = np.zeros(count, dtype=np.int64)
        atto = np.zeros(count, dtype=np.int64)
        np.add.at(micro, groups, self.micro)
        np.add.at(atto, groups, self.atto)
        return [_decimal(int(m), int(a)) for m, a in zip(micro, atto, strict=True)]


def _attodollars(cost: Decimal | None) -> int:
    """The cost in units of 1e-18 dollars, exactly (in a context wide enough for any cost)."""
    if cost is None:
        return 0
    units = cost.scaleb(18, context=_WIDE)
    if units != units.to_integral_value(context=_WIDE):
        raise ValueError(f"a cost with more than 18 decimals: {cost}")
    return int(units)


def _decimal(micro: int, atto: int) -> Decimal:
    """micro-dollars + attodollars as one Decimal with 18 decimals, built exactly."""
    return Decimal(micro * _ATTO_PER_MICRO + atto).scaleb(-18, context=_WIDE)
