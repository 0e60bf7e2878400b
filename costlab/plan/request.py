"""`costlab plan` as asked: the arguments as given (CLI flags or `Costlab.plan` keywords), checked
once, turned into each lever's options, and run. The command and the Python API both call `plan`,
so the same arguments give the same plan, figure for figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from costlab import prices
from costlab.cache import savings
from costlab.errors import BadInput
from costlab.plan import run
from costlab.plan.result import Plan
from costlab.routing import compare, policy
from costlab.scope import from_flags
from costlab.settings import Settings
from costlab.store import Store

RULE_CHOICES = ("auto", "openai", "anthropic")


@dataclass(frozen=True)
class PlanArgs:
    """What was asked, before it is checked: the window, and each lever's own arguments."""

    thresholds: Sequence[float] = ()  # none: the best at min_precision
    min_precision: float = savings.DEFAULT_MIN_PRECISION
    embedder: str = "auto"
    label: str | None = None
    cache: bool = True  # False: leave the cache lever out
    policies: Sequence[Path] = ()
    min_quality: float | None = None
    compress_methods: Sequence[str] = ("minify",)  # each may be comma-separated
    compress_top: int = 20
    rules: str = "auto"
    rule_overrides: Sequence[str] = ()
    batch_features: Sequence[str] = ()  # besides those the settings name
    resamples: int = compare.DEFAULT_RESAMPLES
    seed: int = 0
    since: str | None = None
    until: str | None = None
    where: str | None = None
    emit: Path | None = None
    force: bool = False


def plan(
    store: Store, settings: Settings, args: PlanArgs, progress: run.Progress | None = None
) -> Plan:
    """Check the arguments (BadInput naming the first wrong one), build the levers' options, run."""
    _check(args)
    catalogue = prices.Catalogue.load(overrides=settings.price_overrides())
    policies = tuple(policy.load(Path(path), catalogue) for path in args.policies)
    eligible = settings.batch.eligible()
    eligible.update({f: "--batch-feature" for f in args.batch_features if f not in eligible})
    scope = from_flags(store, args.since, args.until, args.where)
    cache = None
    if args.cache:
        cache = savings.CacheOptions(
            thresholds=[float(t) for t in args.thresholds], embedder=args.embedder,
            label=args.label, min_precision=args.min_precision, save_intents=False, intents=0,
        )  # fmt: skip
    options = run.PlanOptions(
        scope, cache, policies, args.min_quality,
        tuple(m for given in args.compress_methods for m in given.split(",") if m),
        args.compress_top, rules=args.rules,  # type: ignore[arg-type]  # checked above
        rule_overrides=tuple(args.rule_overrides), batch_features=eligible,
        resamples=args.resamples, seed=args.seed, emit=args.emit, force=args.force,
    )  # fmt: skip
    return run.run(store, catalogue, options, progress)


def _check(args: PlanArgs) -> None:
    if args.rules not in RULE_CHOICES:
        raise BadInput(f"--rules {args.rules}: unknown", "use auto, openai or anthropic")
    if args.compress_top < 1:
        raise BadInput(f"--compress-top {args.compress_top}: must be at least 1", "e.g. 20")
    if args.resamples < 0:
        raise BadInput(
            f"--resamples {args.resamples}: must be 0 or more", "0 turns the interval off"
        )
    if not 0 <= args.min_precision <= 1:
        raise BadInput(
            f"--min-precision {args.min_precision}: must be between 0 and 1", "e.g. 0.95"
        )
