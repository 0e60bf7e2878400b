"""Which logged calls used each template, and how many calls that makes per month.

A call is matched to one template, by the first rule that finds one:
1. a template key in its metadata (`metadata.template_id`, ...) equal to the template's id, file
   name or file name without suffix;
2. its hash: `system_prompt_hash` is the md5 of the template, now or as baselined, or
   `prompt_hash` is that of the template as the whole prompt (a template without variables);
3. a shared prefix: its system prompt or prompt shares at least the first 32 characters of the
   template's static text (the text before the first variable); the longest shared prefix wins.

Monthly calls are the matched calls of the 30 days up to the last logged call; when the log spans
less than 30 days, the calls of the whole log scaled to 30 days (a span under a day counts as one).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from costlab.tokens.templates import Template

if TYPE_CHECKING:
    from costlab.store import Store  # duckdb: opened only when traffic is asked for

MONTH = timedelta(days=30)
MIN_PREFIX_CHARS = 32


@dataclass(frozen=True)
class Basis:
    """The logged span that monthly calls come from."""

    first: datetime
    last: datetime
    scaled: bool  # True: the log spans less than 30 days and its counts were scaled up

    def describe(self) -> str:
        if not self.scaled:
            return f"calls in the 30 days to {self.last:%Y-%m-%d}"
        days = (self.last - self.first) / timedelta(days=1)
        return (
            f"calls of {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d} "
            f"({days:.1f} days) scaled to 30 days"
        )


def monthly_calls(
    store: Store,
    templates: Sequence[Template],
    keys: Sequence[str],
    baseline_md5s: Mapping[str, str] | None = None,
) -> tuple[Basis | None, dict[str, dict[str | None, Decimal]]]:
    """The basis, and per template id: monthly calls per logged model.

    `baseline_md5s` (template id -> md5 of the baselined text) finds the calls of a template's
    committed version, which is what the logs saw before the change under review.
    """
    span = store.row("SELECT min(ts), max(ts) FROM requests")
    first, last = span if span else (None, None)
    if last is None:
        return None, {}
    scaled = last - first < MONTH
    start = first if scaled else last - MONTH
    factor = Decimal(1)
    if scaled:
        factor = Decimal(MONTH / max(last - first, timedelta(days=1)))
    store.register("_costlab_templates", _templates_table(templates, baseline_md5s or {}))
    try:
        rows = store.rows(_match_sql(len(keys)), [start, last, *(f'$."{k}"' for k in keys)])
    finally:
        store.unregister("_costlab_templates")
    calls: dict[str, dict[str | None, Decimal]] = defaultdict(dict)
    for template_id, model, n in rows:
        calls[template_id][model] = n * factor
    return Basis(first, last, scaled), dict(calls)


def _templates_table(templates: Sequence[Template], baseline_md5s: Mapping[str, str]) -> object:
    import pyarrow as pa

    prefixes = [
        p if len(p) >= MIN_PREFIX_CHARS else None for p in (t.static_prefix() for t in templates)
    ]
    return pa.table(
        {
            "id": [t.id for t in templates],
            "name": [t.path.name for t in templates],
            "stem": [t.path.stem for t in templates],
            "md5_text": [_md5(t.text) for t in templates],
            "md5_baseline": [baseline_md5s.get(t.id) for t in templates],
            "md5_prompt": [_md5("\0" + t.text) for t in templates],
            "head": [p[:MIN_PREFIX_CHARS] if p else None for p in prefixes],
            "prefix": prefixes,
        },
        schema=pa.schema([(name, pa.string()) for name in _COLUMNS]),
    )


_COLUMNS = ("id", "name", "stem", "md5_text", "md5_baseline", "md5_prompt", "head", "prefix")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _match_sql(n_keys: int) -> str:
    by_key = ""
    if n_keys:
        key = "coalesce(" + ", ".join(["json_extract_string(r.metadata, ?)"] * n_keys) + ")"
        by_key = (
            f"SELECT r.rid, t.id, 1 AS method, 0 AS chars FROM r JOIN t "
            f"ON {key} IN (t.id, t.name, t.stem) UNION ALL"
        )
    return f"""
WITH r AS (
    SELECT rowid AS rid, model, metadata, system_prompt, prompt, system_prompt_hash, prompt_hash
    FROM requests WHERE ts >= ? AND ts <= ?
),
t AS (SELECT * FROM _costlab_templates),
m AS (
    {by_key}
    SELECT r.rid, t.id, 2, 0 FROM r JOIN t
      ON r.system_prompt_hash IN (t.md5_text, t.md5_baseline) OR r.prompt_hash = t.md5_prompt
    UNION ALL
    {_by_prefix("r.system_prompt")}
    UNION ALL
    {_by_prefix("r.prompt")}
),
best AS (
    SELECT rid, id FROM m
    QUALIFY row_number() OVER (PARTITION BY rid ORDER BY method, chars DESC, id) = 1
)
SELECT best.id, r.model, count(*) FROM best JOIN r USING (rid) GROUP BY ALL ORDER BY ALL
"""


def _by_prefix(text: str) -> str:
    """Calls whose text shares the template's first 32 characters, scored by how much it shares.

    The score is the template's static text when the call starts with all of it, else the
    longest of 64, 128, ... characters that they share: a lower bound, found by a hash join.
    """
    steps = ", ".join(
        f"CASE WHEN left({text}, {n}) = left(t.prefix, {n}) THEN {n} ELSE 0 END" for n in _STEPS
    )
    return f"""SELECT r.rid, t.id, 3,
        CASE WHEN starts_with({text}, t.prefix) THEN length(t.prefix)
             ELSE greatest({MIN_PREFIX_CHARS}, {steps}) END
    FROM r JOIN t ON left({text}, {MIN_PREFIX_CHARS}) = t.head"""


_STEPS = (64, 128, 256, 512, 1024, 2048)
