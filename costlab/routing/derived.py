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
"""

from __future__ import annotations

from costlab.store import Store

TASK_TYPES = ("code", "reasoning", "summary", "faq", "general")
# The relation rules are evaluated against: requests and the derived columns.
VIEW = "routing_requests"
DERIVED_COLUMNS = ("prompt_tokens", "task_type", "complexity")

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
        SELECT *, CAST(ceil(length(prompt) / 4.0) AS BIGINT) AS prompt_tokens FROM requests
    )
)
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
    store.execute(_VIEW_SQL.format(view=VIEW, **patterns))
    return VIEW
