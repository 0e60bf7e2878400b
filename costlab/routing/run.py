"""`route-replay` over policy files: the plain ones compared, the swept ones swept, and the
cost–quality frontier of every candidate. The CLI and the Python API both call `run`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from costlab import calibration
from costlab.prices import Catalogue
from costlab.routing import compare, frontier, sweep
from costlab.routing.policy import Policy
from costlab.scope import Scope
from costlab.store import Store


@dataclass(frozen=True)
class RunOptions:
    scope: Scope = field(default_factory=Scope)
    min_quality: float | None = None
    resamples: int = compare.DEFAULT_RESAMPLES
    seed: int = 0
    sweep_values: tuple[float, ...] | None = None  # a swept rule's {t} values (--sweep)
    calibrate: float | None = None  # calibrate {t} to this share of strong calls


@dataclass(frozen=True)
class RouteReplay:
    comparison: compare.Comparison | None  # None when every policy was swept
    sweeps: list[sweep.SweepResult]
    points: list[frontier.PolicyPoint]  # every candidate, cheapest first

    def as_json(self) -> dict[str, Any]:
        """What `route-replay --json` prints: the comparison, the sweeps, the frontier."""
        data = dataclasses.asdict(self.comparison) if self.comparison else {}
        on = [dataclasses.asdict(p) for p in self.points if p.on_frontier]
        return data | {"sweeps": [dataclasses.asdict(s) for s in self.sweeps], "frontier": on}


def run(
    store: Store, catalogue: Catalogue, policies: Sequence[Policy], options: RunOptions
) -> RouteReplay:
    """Replay every policy over the scoped requests: compare the plain, sweep the swept."""
    ratios = calibration.ratios(store)  # measured once for every policy and sweep
    plain = [p for p in policies if p.swept is None]
    compared = compare.CompareOptions(
        options.scope, options.min_quality, options.resamples, options.seed, ratios
    )
    result = compare.run(store, catalogue, plain, compared) if plain or not policies else None
    swept = sweep.SweepOptions(options.scope, options.sweep_values, options.calibrate, ratios)
    sweeps = [sweep.run(store, catalogue, p, swept) for p in policies if p.swept is not None]
    return RouteReplay(result, sweeps, frontier.candidates(result, sweeps))
