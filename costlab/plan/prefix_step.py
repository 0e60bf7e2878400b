"""Step 4: the provider prefix cache over the misses as routed, with the compressed texts.

The misses are read through a view of requests whose model and provider are the routed ones, so
`prefix.traffic` tokenizes each prompt with the routed model's encoding and `prefix.rules`
picks the routed provider's rule; compressed templates replace their originals segment by
segment. The replay's reads and writes are priced at the routed model's unit prices against the
reads and writes its routed cost already holds (see `costlab.plan`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from costlab.plan import stack, tariffs
from costlab.prefix import replay, rules, traffic
from costlab.scope import Scope
from costlab.store import Store

_VIEW = "_plan_prefix_requests"
_SIMULATED = "_plan_prefix_sim"


@dataclass(frozen=True)
class PrefixStep:
    replayed: int  # misses replayed under a rule
    estimated: int  # of them, tokenized with an encoding that is not the routed model's own
    lost: int  # compressed requests that read less from cache than their logs did
    by_rule: dict[str, int] = field(default_factory=dict)  # misses replayed under each rule


def apply(
    store: Store,
    found: Mapping[str, tariffs.Tariff],
    rewrite: Mapping[str, str],
    choice: rules.RuleChoice,
    overrides: tuple[str, ...],
    memo: traffic.Memo | None = None,
) -> PrefixStep:
    """Replay the routed misses and write `saved_prefix` per request (`memo`: the token ids the
    standalone replay made, shared)."""
    import pyarrow as pa

    table = rules.with_overrides(list(overrides))
    store.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {_VIEW} AS
        SELECT q.* REPLACE (p.routed_model AS model, coalesce(t.provider, q.provider) AS provider,
                            -- the replay reads no money or latency: not converted a row at a time
                            NULL::DECIMAL(38, 18) AS cost_usd, NULL::DOUBLE AS latency_ms)
        FROM requests q JOIN {stack.TABLE} p ON p.request_id = q.request_id
        LEFT JOIN {tariffs.TABLE} t ON t.model = p.routed_model
        WHERE NOT p.hit
        """
    )
    try:
        found_traffic = traffic.load(
            store, Scope(), traffic.AUTO, _VIEW, rewrite, rules.smallest_prefix(table), memo
        )
    finally:
        store.execute(f"DROP VIEW IF EXISTS {_VIEW}")
    if not len(found_traffic):
        return PrefixStep(0, 0, 0)
    rule_of = [
        rules.rule_for(p, m, choice)
        for p, m in zip(found_traffic.providers, found_traffic.models, strict=True)
    ]
    units = {m: t.unit for m, t in found.items() if t.unit is not None}
    replayed = replay.replay(found_traffic, rule_of, table, units)
    done = replayed.template_of >= 0
    sim = pa.table(
        {
            "request_id": pa.array(found_traffic.request_ids, pa.string()),
            "replayed": pa.array(done.tolist(), pa.bool_()),
            "reads": pa.array(replayed.cached.tolist(), pa.int64()),
            "write_5m": pa.array(replayed.write_5m.tolist(), pa.int64()),
            "write_1h": pa.array(replayed.write_1h.tolist(), pa.int64()),
        }
    )
    store.register(_SIMULATED, sim)
    try:
        store.execute(_UPDATE.format(plan=stack.TABLE, sim=_SIMULATED, tariffs=tariffs.TABLE))
        lost = store.row(
            f"SELECT count(*) FROM {stack.TABLE} WHERE compressed AND saved_prefix < 0"
        )
    finally:
        store.unregister(_SIMULATED)
    estimated = sum(
        1
        for k, m in enumerate(found_traffic.models)
        if done[k] and not (found.get(m) and found[m].exact_tokens)
    )
    by_rule = Counter(str(r) for k, r in enumerate(rule_of) if done[k] and r is not None)
    return PrefixStep(int(done.sum()), estimated, int(lost[0]) if lost else 0, dict(by_rule))


# value(reads, writes) = reads × (input − read) − w5 × (write_5m − input) − w1 × (write_1h − input);
# the routed cost already holds the logged buckets when the provider is unchanged, else none.
_VALUE = (
    "({r} * (t.input - t.read) - {w5} * (t.write_5m - t.input) - {w1} * (t.write_1h - t.input))"
)
_UPDATE = (
    """
UPDATE {plan} SET saved_prefix = CASE WHEN {plan}.compressed THEN x.gain ELSE greatest(x.gain, 0)
    END
FROM (
    SELECT p.row, """
    + _VALUE.format(r="s.reads", w5="s.write_5m", w1="s.write_1h")
    + """
        - CASE WHEN coalesce(t0.provider = t.provider, false)
               THEN """
    + _VALUE.format(
        r="coalesce(q.cached_input_tokens, 0)",
        w5="coalesce(q.cache_write_5m_tokens, 0)",
        w1="coalesce(q.cache_write_1h_tokens, 0)",
    )
    + """ ELSE 0 END AS gain
    FROM {plan} p JOIN {sim} s ON s.request_id = p.request_id
    JOIN requests q ON q.request_id = p.request_id
    JOIN {tariffs} t ON t.model = p.routed_model
    LEFT JOIN {tariffs} t0 ON t0.model = p.logged_model
    WHERE s.replayed AND p.logged_usd IS NOT NULL AND t.input IS NOT NULL
) x
WHERE x.row = {plan}.row
"""
)
