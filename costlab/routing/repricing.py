"""What each request would have cost on each candidate model: exact DECIMAL, computed in SQL.

Token counts under the target model:
- same model as logged: the logged cost, unchanged;
- same tokenizer family: the logged token counts (exact);
- another family: each bucket × (target's tokens per cl100k token ÷ source's), rounded: an
  *estimate*, counted as such. A family's tokens per cl100k token are measured on the logged
  requests (billed input tokens beside the messages sent, `costlab.calibration.Ratios`) where at
  least `calibration.MIN_REQUESTS` were compared, else the fixed table's rough averages for
  English text (`calibration.families.TOKENIZERS`).
Output tokens: the candidate's own answer length from outcomes when recorded, else the logged
response's length under the target's tokenizer (the same ratio). A validator call (a
quality_aware policy) reads the prompt and the cheap model's answer: its input is the request's
input tokens plus the cheap answer's, under the validator's tokenizer, all uncached; its output
is `VALIDATOR_OUTPUT_TOKENS` (a verdict). Cache reads and writes carry
over only when the target is of the logged model's provider (the same prompt cache); otherwise
they are billed as uncached input. Batch requests stay batch: priced at the target's batch rate
where it has one, else at its standard rate (the catalogue's own fallback).

One streaming pass, no per-row lookup: every candidate adds a few columns to each request (its
token counts, the number of its price point in force, then the cost), and the point's prices
come from a table of a few rows per candidate. The point in force and the arithmetic are those
of `costs.cost_sql` (tests/test_routing_repricing.py checks that both give the same cost).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from costlab import prices
from costlab.calibration import Ratios
from costlab.routing.policy import Candidate
from costlab.store import Store

VALIDATOR_OUTPUT_TOKENS = 5
POINTS = "_candidate_points"
SOURCES = "_routing_sources"
_TABLE_ONLY = Ratios()  # no measurement: every family at the table's ratio
_BUCKETS = ("uncached", "cached", "write_5m", "write_1h", "output", "reasoning")


@dataclasses.dataclass(frozen=True)
class Validation:
    """A validator call on the answer of candidate `reads` (an index into the candidates)."""

    validator: Candidate
    reads: int


@dataclasses.dataclass(frozen=True)
class Priced:
    """A SELECT that adds `c_K` (cost) and `e_K` (input estimated) per candidate to a relation."""

    sql: str
    params: list[Any]


def register(
    store: Store,
    catalogue: prices.Catalogue,
    candidates: Sequence[Candidate],
    ratios: Ratios = _TABLE_ONLY,
) -> None:
    """Register the small tables the pricing SELECT joins: price points, and per logged model
    and candidate the token factor and whether the tokenizer and the prompt cache are shared."""
    import pyarrow as pa

    points = []
    for k, candidate in enumerate(candidates):
        points += [dataclasses.replace(p, model=f"#{k}") for p in _points(catalogue, candidate)]
    table = prices.points_arrow(points)
    store.register(POINTS, table.append_column("no", pa.array(range(len(points)), pa.int64())))
    logged = [r[0] for r in store.rows("SELECT DISTINCT model FROM requests") if r[0] is not None]
    columns: dict[str, Any] = {"model": pa.array(logged, pa.string())}
    sources = [(ratios.of(m), catalogue.resolve(m).provider) for m in logged]
    for k, candidate in enumerate(candidates):
        (family, ratio), provider = ratios.of(candidate.price_as), _provider(catalogue, candidate)
        same = [f is not None and f == family for (f, _), _ in sources]
        columns[f"factor_{k}"] = pa.array(
            [1.0 if s else ratio / r for s, ((_, r), _) in zip(same, sources, strict=True)],
            pa.float64(),
        )
        columns[f"same_family_{k}"] = pa.array(same, pa.bool_())
        columns[f"same_cache_{k}"] = pa.array(
            [p is not None and p == provider for _, p in sources], pa.bool_()
        )
    store.register(SOURCES, pa.table(columns))


def _provider(catalogue: prices.Catalogue, candidate: Candidate) -> str | None:
    return catalogue.resolve(candidate.price_as).provider


def unregister(store: Store) -> None:
    store.unregister(POINTS)
    store.unregister(SOURCES)


def priced(
    catalogue: prices.Catalogue,
    candidates: Sequence[Candidate],
    relation: str,
    params: list[Any],
    validations: Sequence[Validation] = (),
    ratios: Ratios = _TABLE_ONLY,
) -> Priced:
    """A SELECT of `relation`'s columns plus each candidate's cost and input-estimate flag.

    `relation` (a subquery) has logged_model, ts, batch, the token buckets, cost_usd and the
    candidates' outcome answer lengths `out_K`; its own values are bound in `params` ($N).
    Validation v adds `c_K`/`e_K` with K = len(candidates) + v. Needs `register` first, with
    the candidates then the validators.
    """
    params = list(params)
    n = len(candidates)
    calls = [*candidates, *(v.validator for v in validations)]

    def bind(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    tokens, chosen, costs, joins = [], [], [], []
    first = 0
    for k, candidate in enumerate(calls):
        own = _points(catalogue, candidate)
        ratio = float(ratios.of(candidate.price_as)[1])
        if k < n:  # a request with no logged model: its tokens are taken as cl100k tokens
            tokens.append(_TOKENS_SQL.format(k=k, ratio=repr(ratio)))
        else:
            reads = validations[k - n].reads
            read_ratio = float(ratios.of(candidates[reads].price_as)[1])
            tokens.append(
                _VALIDATOR_SQL.format(
                    k=k, ratio=repr(ratio), r=reads, read_ratio=repr(read_ratio),
                    to_validator=repr(ratio / read_ratio), out=VALIDATOR_OUTPUT_TOKENS,
                )
            )  # fmt: skip
        chain = " ".join(
            f"WHEN {_in_force(point, k, bind)} THEN {first + i}" for i, point in enumerate(own)
        )
        first += len(own)
        chosen.append(f"CASE {chain or 'WHEN false THEN 0'} END AS pt_{k}")
        same, logged = "false", ""  # a validator call is never the logged one
        if k < n:
            name = bind(candidate.name)
            same = f"coalesce(t.logged_model = {name}, false)"
            logged = f"WHEN t.logged_model = {name} THEN t.cost_usd "
        costs.append(
            f"CASE {logged}WHEN true THEN {_cost(k)} END AS c_{k}, "
            f"NOT ({same} OR coalesce(t.same_family_{k}, false)) AS e_{k}"
        )
        joins.append(f" LEFT JOIN {POINTS} p{k} ON p{k}.no = t.pt_{k}")
    drop = [f"{b}_{k}" for k in range(len(calls)) for b in _BUCKETS]
    drop += [f"pt_{k}, same_family_{k}" for k in range(len(calls))]
    sql = f"""
    SELECT t.*{" EXCLUDE (" + ", ".join(drop) + ")" if drop else ""}
        {"".join(", " + c for c in costs)}
    FROM (
        SELECT *{"".join(", " + c for c in chosen)}
        FROM (
            SELECT r.*{"".join(f", s.same_family_{k}" for k in range(len(calls)))}
                {"".join(", " + t for t in tokens)}
            FROM ({relation}) r LEFT JOIN {SOURCES} s ON s.model = r.logged_model
        )
    ) t{"".join(joins)}
    """
    return Priced(sql, params)


def _cost(k: int) -> str:
    """The exact cost of a call on candidate k at its point in force (as `costs.cost_sql`)."""
    p = f"p{k}"
    n = {b: f"t.{b}_{k}" for b in _BUCKETS}
    return (
        f"CAST({n['uncached']} * {p}.input"
        f" + {n['cached']} * coalesce({p}.cache_read, {p}.input)"
        f" + {n['write_5m']} * coalesce({p}.cache_write_5m, {p}.input)"
        f" + {n['write_1h']} * coalesce({p}.cache_write_1h, {p}.cache_write_5m, {p}.input)"
        f" + CASE WHEN {n['output']} = 0 THEN 0 WHEN {p}.reasoning IS NULL"
        f" THEN {n['output']} * {p}.output ELSE greatest({n['output']} - {n['reasoning']}, 0)"
        f" * {p}.output + {n['reasoning']} * {p}.reasoning END AS DECIMAL(38, 18))"
    )


def _points(catalogue: prices.Catalogue, candidate: Candidate) -> list[prices.PricePoint]:
    """A candidate's price points, most specific first: latest, batch, then largest tier."""
    if candidate.override:
        source = prices.Catalogue({}, "policy", "", overrides=(candidate.override,))
        own = source.points([candidate.name])
    else:
        own = catalogue.points([candidate.price_as])
    return sorted(own, key=lambda p: (p.since, p.batch, p.above_tokens), reverse=True)


def _in_force(point: prices.PricePoint, k: int, bind: Callable[[object], str]) -> str:
    """The condition for `point` to be in force for a call (the rule of `costs.cost_sql`)."""
    parts = ["true"]
    if point.since > prices.CATALOGUE_SINCE:
        parts.append(f"(ts IS NULL OR {bind(point.since)} <= CAST(ts AS DATE))")
    if point.above_tokens:
        parts.append(
            f"{bind(point.above_tokens)} < uncached_{k} + cached_{k} + write_5m_{k} + write_1h_{k}"
        )
    if point.batch:
        parts.append("coalesce(batch, false)")
    return " AND ".join(parts)


# One candidate's token counts: the logged buckets × the factor from the logged model's
# tokenizer to the candidate's (1 within a family); cache buckets carry over only within a
# provider. `out_K` is the candidate's recorded answer length.
_TOKENS_SQL = """
    CAST(round(CASE WHEN coalesce(s.same_cache_{k}, false)
                    THEN coalesce(r.uncached_input_tokens, 0) ELSE coalesce(r.input_tokens, 0) END
               * coalesce(s.factor_{k}, {ratio})) AS BIGINT) AS uncached_{k},
    CAST(round(CASE WHEN s.same_cache_{k} THEN coalesce(r.cached_input_tokens, 0) ELSE 0 END
               * coalesce(s.factor_{k}, {ratio})) AS BIGINT) AS cached_{k},
    CAST(round(CASE WHEN s.same_cache_{k} THEN coalesce(r.cache_write_5m_tokens, 0) ELSE 0 END
               * coalesce(s.factor_{k}, {ratio})) AS BIGINT) AS write_5m_{k},
    CAST(round(CASE WHEN s.same_cache_{k} THEN coalesce(r.cache_write_1h_tokens, 0) ELSE 0 END
               * coalesce(s.factor_{k}, {ratio})) AS BIGINT) AS write_1h_{k},
    coalesce(r.out_{k}, CAST(round(coalesce(r.output_tokens, 0) * coalesce(s.factor_{k}, {ratio}))
                             AS BIGINT)) AS output_{k},
    CASE WHEN r.out_{k} IS NULL
         THEN CAST(round(coalesce(r.reasoning_tokens, 0) * coalesce(s.factor_{k}, {ratio}))
                   AS BIGINT)
         ELSE 0 END AS reasoning_{k}
"""

# A validator call: the request's input (all uncached) plus the cheap answer (candidate r's
# output, converted from r's tokenizer to the validator's), a verdict of a few tokens out.
_VALIDATOR_SQL = """
    CAST(round(coalesce(r.input_tokens, 0) * coalesce(s.factor_{k}, {ratio})) AS BIGINT)
    + CAST(round(coalesce(r.out_{r}, CAST(round(coalesce(r.output_tokens, 0)
                 * coalesce(s.factor_{r}, {read_ratio})) AS BIGINT)) * {to_validator}) AS BIGINT)
        AS uncached_{k},
    0::BIGINT AS cached_{k}, 0::BIGINT AS write_5m_{k}, 0::BIGINT AS write_1h_{k},
    {out}::BIGINT AS output_{k}, 0::BIGINT AS reasoning_{k}
"""
