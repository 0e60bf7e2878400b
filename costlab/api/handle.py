"""`costlab.open(path)`: a store as a Python object whose methods mirror the commands.

Each method opens the store for the length of the call, as a command does, so a notebook never
holds it locked between cells. The read-only methods (`requests`, `sql`, `report`,
`route_replay`) open it read-only: they cannot write, whatever they are given. `simulate_cache`,
`intents` and `plan` write what their commands write (vectors, neighbour lists, intents). Every
method builds the same options from the same arguments as its command and calls the same library
function, so a result here is the command's `--json`, figure for figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from costlab import intents as intents_library
from costlab import prices, settings
from costlab import report as report_library
from costlab.api.results import (
    CacheResult,
    IntentsResult,
    PlanResult,
    ReportResult,
    RoutingResult,
)
from costlab.cache import auto, fidelity, savings, thresholds
from costlab.errors import BadInput, StoreError
from costlab.intents import agglomerative
from costlab.migrations import MIGRATIONS
from costlab.plan import request as plan_request
from costlab.routing import compare, policy
from costlab.routing import run as routing_run
from costlab.scope import Scope, from_flags, parse_day
from costlab.store import Store

Day = str | date | None


class Costlab:
    """An opened costlab store. Make one with `costlab.open(path)`."""

    def __init__(self, path: str | Path, config: str | Path | None = None) -> None:
        self.path = Path(path)
        self.settings = settings.load(Path(config) if config is not None else None)
        if not self.path.is_file():
            raise StoreError(
                f"no store at {self.path}", "costlab ingest PATH --db FILE creates a store"
            )
        with self._open(read_only=True) as store:
            pending = {name for name, _ in MIGRATIONS} - set(store.migrations())
        if pending:  # an older store: brought up to date once, here, not by a read
            Store.open(self.path, create=False).close()

    def __repr__(self) -> str:
        return f"costlab.open({str(self.path)!r})"

    @contextmanager
    def _open(self, *, read_only: bool) -> Iterator[Store]:
        with Store.open(self.path, read_only=read_only, create=False) as store:
            yield store

    def requests(
        self,
        since: Day = None,
        until: Day = None,
        where: str | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The logged requests in scope, in time order, one row each (money as Decimal)."""
        with self._open(read_only=True) as store:
            scope = _scope(store, since, until, where)
            known = [r[0] for r in store.rows("SELECT column_name FROM (DESCRIBE requests)")]
            chosen = list(columns) if columns is not None else known
            unknown = [c for c in chosen if c not in known]
            if unknown or not chosen:
                raise BadInput(
                    f"columns: {', '.join(unknown) or '(none)'} not in requests",
                    f"choose from {', '.join(known)}",
                )
            if limit is not None and limit < 0:
                raise BadInput(f"limit {limit}: must be 0 or more")
            clause, params = scope.sql()
            listed = ", ".join(f'"{c}"' for c in chosen)
            bound = "" if limit is None else f" LIMIT {int(limit)}"
            table = store.arrow(
                f"SELECT {listed} FROM requests{clause} ORDER BY ts, request_id{bound}", params
            )
        found: pd.DataFrame = table.to_pandas()
        return found

    def sql(self, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Any read-only SQL over the store's tables (values bound by `?`), as a DataFrame."""
        with self._open(read_only=True) as store:
            try:
                table = store.arrow(query, params)
            except StoreError as err:
                raise BadInput(
                    f"sql: {err.message.removeprefix('store query failed: ')}",
                    "the store is opened read-only here; tables: requests, rejects, "
                    "ingest_runs, embeddings, intents, request_intents, outcomes",
                ) from None
        found: pd.DataFrame = table.to_pandas()
        return found

    def report(
        self,
        by: str | Sequence[str] = "feature",
        since: Day = None,
        until: Day = None,
        where: str | None = None,
        top: int = 10,
        as_of: Day = None,
    ) -> ReportResult:
        """Spend by the dimensions `by` (e.g. "feature,model"), totals, top requests, budgets."""
        dimensions = report_library.parse_dimensions(by if isinstance(by, str) else ",".join(by))
        if top < 0:
            raise BadInput(f"top {top}: must be 0 or more")
        with self._open(read_only=True) as store:
            options = report_library.ReportOptions(
                scope=_scope(store, since, until, where),
                by=[dimensions],
                top=top,
                section="all",
                budgets=self.settings.budget_list(),
                as_of=parse_day(_text(as_of), "as_of"),
            )
            return ReportResult(report_library.build(store, options))

    def simulate_cache(
        self,
        thresholds: float | Sequence[float] | str,
        *,
        ttl: str | float | None = None,
        scope: Sequence[str] = (),
        label: str | None = None,
        embedder: str = auto.AUTO,
        key: str = "prompt",
        normalize: bool = True,
        max_entries: int | None = None,
        min_precision: float = savings.DEFAULT_MIN_PRECISION,
        since: Day = None,
        until: Day = None,
        where: str | None = None,
        intents: int = 10,
        save_intents: bool = True,
        neighbours: str = "auto",
        check_sample: int = fidelity.SAMPLE,
    ) -> CacheResult:
        """The semantic-cache what-if: one row per threshold (`thresholds` a value, a list, or
        a sweep "0.80:0.99:0.01"), as `costlab simulate-cache --json`."""
        if max_entries is not None and max_entries < 1:
            raise BadInput(f"max_entries {max_entries}: must be at least 1")
        with self._open(read_only=False) as store:
            options = savings.CacheOptions(
                thresholds=_thresholds(thresholds),
                scope=_scope(store, since, until, where),
                key=key,
                normalize=normalize,
                cache_scope=tuple(scope),
                ttl_s=_ttl(ttl),
                max_entries=max_entries,
                label=label,
                embedder=embedder,
                min_precision=min_precision,
                intents=intents,
                save_intents=save_intents,
                neighbours=neighbours,
                check_sample=check_sample,
            )
            return CacheResult(savings.run(store, options))

    def route_replay(
        self,
        policies: str | Path | Sequence[str | Path],
        *,
        min_quality: float | None = None,
        resamples: int = compare.DEFAULT_RESAMPLES,
        seed: int = 0,
        sweep: Sequence[float] | None = None,
        calibrate: float | None = None,
        since: Day = None,
        until: Day = None,
        where: str | None = None,
    ) -> RoutingResult:
        """Routing policies (TOML/YAML files) replayed on the logs, as `route-replay --json`."""
        paths = [policies] if isinstance(policies, str | Path) else list(policies)
        if resamples < 0:
            raise BadInput(f"resamples {resamples}: must be 0 or more")
        catalogue = prices.Catalogue.load(overrides=self.settings.price_overrides())
        loaded = [policy.load(Path(p), catalogue) for p in paths]
        with self._open(read_only=True) as store:
            options = routing_run.RunOptions(
                _scope(store, since, until, where),
                min_quality,
                resamples,
                seed,
                tuple(sweep) if sweep is not None else None,
                calibrate,
            )
            return RoutingResult(routing_run.run(store, catalogue, loaded, options))

    def plan(
        self,
        threshold: float | Sequence[float] | None = None,
        *,
        policies: str | Path | Sequence[str | Path] = (),
        min_precision: float = savings.DEFAULT_MIN_PRECISION,
        embedder: str = auto.AUTO,
        label: str | None = None,
        cache: bool = True,
        min_quality: float | None = None,
        compress_methods: Sequence[str] = ("minify",),
        compress_top: int = 20,
        rules: str = "auto",
        rule_overrides: Sequence[str] = (),
        batch_features: Sequence[str] = (),
        resamples: int = compare.DEFAULT_RESAMPLES,
        seed: int = 0,
        since: Day = None,
        until: Day = None,
        where: str | None = None,
        emit: str | Path | None = None,
        force: bool = False,
    ) -> PlanResult:
        """One plan across every lever, stacked and ranked, as `costlab plan --json`: one row per
        lever (`to_pandas`). `threshold` None: the best one that keeps `min_precision`."""
        given = [threshold] if isinstance(threshold, int | float) else list(threshold or [])
        paths = [policies] if isinstance(policies, str | Path) else list(policies)
        args = plan_request.PlanArgs(
            thresholds=[float(t) for t in given], min_precision=min_precision, embedder=embedder,
            label=label, cache=cache, policies=[Path(p) for p in paths], min_quality=min_quality,
            compress_methods=tuple(compress_methods), compress_top=compress_top, rules=rules,
            rule_overrides=tuple(rule_overrides), batch_features=tuple(batch_features),
            resamples=resamples, seed=seed, since=_text(since), until=_text(until), where=where,
            emit=None if emit is None else Path(emit), force=force,
        )  # fmt: skip
        with self._open(read_only=False) as store:  # the cache lever stores what it builds
            return PlanResult(plan_request.plan(store, self.settings, args))

    def intents(
        self,
        method: str = "agglomerative",
        min_similarity: float = intents_library.DEFAULT_MIN_SIMILARITY,
        *,
        label: str | None = None,
        embedder: str | None = None,
        key: str = "prompt",
        normalize: bool = True,
        since: Day = None,
        until: Day = None,
        where: str | None = None,
        top: int = 20,
        save: bool = True,
        full_up_to: int = agglomerative.FULL_UP_TO,
        sample: int = agglomerative.SAMPLE,
    ) -> IntentsResult:
        """The recurring intents, clustered from the stored vectors, as `costlab intents --json`."""
        with self._open(read_only=not save) as store:
            options = intents_library.IntentsOptions(
                method=method,
                min_similarity=min_similarity,
                scope=_scope(store, since, until, where),
                key=key,
                normalize=normalize,
                embedder=embedder,
                label=label,
                top=top,
                save=save,
                full_up_to=full_up_to,
                sample=sample,
            )
            return IntentsResult(intents_library.run(store, options))


def _scope(store: Store, since: Day, until: Day, where: str | None) -> Scope:
    return from_flags(store, _text(since), _text(until), where)


def _text(day: Day) -> str | None:
    return day.isoformat() if isinstance(day, date) else day


def _thresholds(given: float | Sequence[float] | str) -> list[float]:
    if isinstance(given, str):
        return thresholds.given([], given)
    if isinstance(given, int | float):
        return thresholds.given([float(given)], None)
    return thresholds.given([float(t) for t in given], None)


def _ttl(ttl: str | float | None) -> float | None:
    if ttl is None or isinstance(ttl, str):
        return thresholds.ttl_s(ttl)
    if not ttl > 0:
        raise BadInput(f"ttl {ttl}: must be a positive number of seconds, or e.g. '24h'")
    return float(ttl)
