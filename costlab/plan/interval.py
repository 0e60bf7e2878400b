"""95 % intervals from route-replay's seeded bootstrap over request groups (the same weights:
`routing.compare.resample_weights`, groups by `routing.replay.BOOT_GROUPS`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costlab.routing.compare import resample_weights

_PLACES = Decimal("1e-6")


def after(
    groups: Any, logged: Decimal, resamples: int, seed: int
) -> tuple[Decimal, Decimal] | None:
    """The interval of the stacked total: logged × the resampled after ÷ logged ratio."""
    import numpy as np

    weights = resample_weights(len(groups), resamples, seed)
    if weights is None or groups[:, 0].sum() <= 0:
        return None
    sums = weights @ groups
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sums[:, 1] / sums[:, 0]
    ratio = ratio[np.isfinite(ratio)]
    if not len(ratio):
        return None
    low, high = np.percentile(ratio, [2.5, 97.5])
    return _money(logged, low), _money(logged, high)


def quality(
    groups: Any, resamples: int, seed: int
) -> tuple[float | None, tuple[float, float] | None]:
    """Mean Δ quality over the routed misses, and its interval (None where unknown)."""
    import numpy as np

    if groups is None or groups[:, 1].sum() <= 0:
        return None, None
    mean = float(groups[:, 0].sum() / groups[:, 1].sum())
    weights = resample_weights(len(groups), resamples, seed)
    if weights is None:
        return mean, None
    sums = weights @ groups
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = sums[:, 0] / sums[:, 1]
    delta = delta[np.isfinite(delta)]
    if not len(delta):
        return mean, None
    low, high = np.percentile(delta, [2.5, 97.5])
    return mean, (float(low), float(high))


def _money(logged: Decimal, ratio: float) -> Decimal:
    return (logged * Decimal(repr(float(ratio)))).quantize(_PLACES)
