"""Columns that routing rules can use beside those of `requests`, defined in SQL (no LLM calls).

- `prompt_tokens`: the last user turn's length in tokens, estimated as characters / 4 (NULL when
  the prompt text was not stored).
- `task_type`: the first that matches, on the lower-cased prompt: `code` (code fences or
  programming words), `reasoning` (maths, logic, proofs, arithmetic), `summary` (summarise,
  extract, key points), `faq` (a short question: under 40 tokens, ending in '?' or opening with a
  question word), else `general`.
- `complexity`: a score from 0 to 1, the sum of four terms: 0.35 × prompt length (log scale,
  2,000 tokens = full), 0.25 when the task is code or reasoning, 0.15 × the number of questions
  and lines (4 = full), 0.25 when the prompt asks for depth (step by step, prove, compare,
  analyse, design, in detail, ...).
- `intent`, `intent_size`, `intent_prompt`: the request's recurring intent as the last
  `costlab simulate-cache` (at its recommended threshold, else its highest) or `costlab intents`
  (an order-independent clustering) stored it: the
  intent's id (1 is the largest, as that report lists them), how many requests it holds, and its
  representative prompt. Read from the store, no model loaded. NULL for every request when no
  intents are stored, and for the requests that run did not replay (ingested since, outside its
  --since/--until/--where, or without prompt text). A rule that names them with none stored is
  an error (`require_intents`), not a rule that silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from costlab.errors import BadInput
from costlab.scope import Scope, columns_named
from costlab.store import Store

TASK_TYPES = ("code", "reasoning", "summary", "faq", "general")
# The relation rules are evaluated against: requests and the derived columns.
VIEW = "routing_requests"
INTENT_COLUMNS = ("intent", "intent_size", "intent_prompt")
DERIVED_COLUMNS = ("prompt_tokens", "task_type", "complexity", *INTENT_COLUMNS)
INTENTS_HINT = (
    "run `costlab intents` (or `costlab simulate-cache --sweep 0.80:0.99:0.01`) first: it "
    "stores each request's recurring intent for rules to use"
)

_CODE = (
    r"```|\b(code|coding|program|programming|function|python|javascript|typescript|java|"
    r"c\+\+|rust|golang|sql|regex|bug|debug|compile|stack ?trace|exception|implement|"
    r"algorithm|script|api)\b"
)
_REASONING = (
    r"\b(prove|proof|calculate|compute|solve|equation|probability|integral|derivative|"
    r"how many|math|logic|puzzle|riddle|deduce|infer)\b|\d\s*[-+*/^=<>]\s*\d"
)
_SUMMARY = r"\b(summari[sz]e|summary|tl;?dr|condense|key points|extract|in brief|outline)\b"
_QUESTION = r"^\s*(what|how|where|when|who|which|why|can i|can you|do you|is there|does)\b"
_DEPTH = (
    r"step by step|explain why|\b(prove|compare|trade-?offs?|analy[sz]e|design|optimi[sz]e|"
    r"in detail|justify|evaluate|critique|derive)\b"
)

_VIEW_SQL = """
CREATE OR REPLACE TEMP VIEW {view} AS
SELECT *,
    round(
        0.35 * least(1.0, ln(1 + coalesce(prompt_tokens, input_tokens, 0)) / ln(2001))
        + 0.25 * (task_type IN ('code', 'reasoning'))::INTEGER
        + 0.15 * least(1.0, (length(coalesce(prompt, '')) - length(replace(coalesce(prompt, ''),
            '?', '')) + length(coalesce(prompt, '')) - length(replace(coalesce(prompt, ''),
            chr(10), ''))) / 4.0)
        + 0.25 * regexp_matches(coalesce(prompt, ''), '{depth}', 'i')::INTEGER,
        3) AS complexity
FROM (
    SELECT *,
        CASE WHEN prompt IS NULL THEN 'general'
             WHEN regexp_matches(prompt, '{code}', 'i') THEN 'code'
             WHEN regexp_matches(prompt, '{reasoning}', 'i') THEN 'reasoning'
             WHEN regexp_matches(prompt, '{summary}', 'i') THEN 'summary'
             WHEN prompt_tokens < 40 AND (rtrim(prompt) LIKE '%?'
                  OR regexp_matches(prompt, '{question}', 'i')) THEN 'faq'
             ELSE 'general' END AS task_type
    FROM (
        SELECT *, CAST(ceil(length(prompt) / 4.0) AS BIGINT) AS prompt_tokens FROM ({requests})
    )
)
"""
_WITH_INTENTS = """
    SELECT r.*, a.intent, i.requests AS intent_size, i.prompt AS intent_prompt
    FROM requests r
    LEFT JOIN request_intents a ON a.request_id = r.request_id
    LEFT JOIN intents i ON i.intent = a.intent
"""
_NO_INTENTS = """
    SELECT *, NULL::INTEGER AS intent, NULL::BIGINT AS intent_size,
        NULL::VARCHAR AS intent_prompt
    FROM requests
"""


def create_view(store: Store) -> str:
    """(Re)create the temporary view of requests with the derived columns; return its name."""
    patterns = {
        "code": _CODE,
        "reasoning": _REASONING,
        "summary": _SUMMARY,
        "question": _QUESTION,
        "depth": _DEPTH,
    }
    assert not any("'" in p for p in patterns.values())  # constants, quoted as SQL literals
    requests = _WITH_INTENTS if intents_stored(store) else _NO_INTENTS
    store.execute(_VIEW_SQL.format(view=VIEW, requests=requests, **patterns))
    return VIEW


def intents_stored(store: Store) -> bool:
    """Whether simulate-cache or `costlab intents` has stored recurring intents."""
    row = store.row("SELECT count(*) FROM intent_sets")
    return bool(row and row[0])


def intent_columns(store: Store, predicate: str) -> list[str]:
    """The intent columns a (valid) predicate over the view names, in INTENT_COLUMNS order."""
    named = columns_named(store, predicate, VIEW)
    return [c for c in INTENT_COLUMNS if c in named]


def require_intents(store: Store, predicate: str, label: str) -> None:
    """BadInput `label: ...` when the predicate names an intent column and none is stored."""
    named = intent_columns(store, predicate)
    if named and not intents_stored(store):
        raise BadInput(
            f"{label}: uses {', '.join(named)}, but the store holds no recurring intents",
            INTENTS_HINT,
        )


def intent_notes(store: Store, predicates: Sequence[str], scope: Scope) -> list[str]:
    """When a predicate names an intent column: where the stored intents come from, and how
    many requests in scope have none (NULL)."""
    if not any(intent_columns(store, p) for p in predicates):
        return []
    source = store.row("SELECT threshold, embedder, cache_key, built_at, method FROM intent_sets")
    if source is None:
        return []
    where, params = scope.sql()
    counted = store.row(f"SELECT count(*), count(intent) FROM {VIEW}{where}", params)
    total, covered = counted if counted else (0, 0)
    made_by = (
        f"simulate-cache at threshold {source[0]:g}"
        if source[4] == "leader"
        else f"costlab intents --method {source[4]} at similarity {source[0]:g}"
    )
    note = (
        f"intent columns from {made_by} ({source[1]}, "
        f"--key {source[2]}, stored {source[3]:%Y-%m-%d %H:%M} UTC)"
    )
    if covered < total:
        note += (
            f"; {total - covered:,} of {total:,} requests have none (NULL): that run did not "
            "replay them (ingested since, outside its --since/--until/--where, or without "
            "prompt text), so rerun simulate-cache to cover them"
        )
    return [note]
