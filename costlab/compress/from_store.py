"""Templates from the logs: the recurring prompts that cost the most input dollars, and the
logged volume and price of a template file found in the store."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab import prices
from costlab.compress import protect
from costlab.compress.report import Usage
from costlab.compress.templates import Template
from costlab.store import Store

_DAYS_PER_MONTH = Decimal(30)
COUNT_BLOCK = 256  # texts counted between two checks of the cut
_MIN_PREFIX_CHARS = 64  # a shorter static prefix matches too much to claim a volume
_INPUT_COST = (
    "coalesce(uncached_input_cost_usd, 0) + coalesce(cached_input_cost_usd, 0)"
    " + coalesce(cache_write_cost_usd, 0)"
)


@dataclass(frozen=True)
class StoredPrompt:
    """A recurring text of the logs, its volume and price, as a template to compress."""

    template: Template
    usage: Usage
    input_usd: Decimal  # what sending this text cost over the logs (tokens × requests × price)


_Row = tuple[str, str, int, Decimal | None, str, str]  # kind, text, requests, price, source, name


def recurring(
    store: Store, catalogue: prices.Catalogue, count: Callable[[str], int], top: int
) -> list[StoredPrompt]:
    """The `top` system prompts and repeated prompts by the input dollars their text costs."""
    months = _months(store)
    rows: list[_Row] = []
    for column, kind in (("system_prompt", "system"), ("prompt", "prompt")):
        for text, requests, model, feature, cost, input_tokens in texts(store, column):
            price, source = _price(cost, input_tokens, model, catalogue)
            digest = hashlib.md5(text.encode()).hexdigest()[:8]
            rows.append(
                (kind, text, requests, price, source, f"{kind}-{feature or 'all'}-{digest}.txt")
            )
    found = []
    for input_usd, k in _top(rows, count, top):
        kind, text, requests, price, source, name = rows[k]
        usage = Usage(requests, requests / months, price, source, f"{kind} prompt")
        found.append(StoredPrompt(Template(name, text), usage, input_usd))
    return found


def texts(store: Store, column: str) -> list[tuple[Any, ...]]:
    """Each text of `column` sent at least twice: (text, requests, model, feature, input
    dollars, input tokens), with the model and feature most of its requests have (ties: the
    first in order), so that a name or a price never depends on how a query breaks a tie.

    Each count is one GROUP BY (the model of the most requests is the first of its text's
    (count, model) groups): windows over every request took twice as long at 1M requests."""
    return store.rows(
        f"""
        WITH sent AS (
            SELECT {column} AS text, md5({column}) AS h, model, feature,
                   {_INPUT_COST} AS cost, input_tokens
            FROM requests WHERE {column} IS NOT NULL AND length(trim({column})) > 0
        ), totals AS (
            SELECT h, any_value(text) AS text, count(*) AS requests, sum(cost) AS cost,
                   sum(input_tokens) AS input_tokens
            FROM sent GROUP BY h HAVING count(*) >= 2
        ), models AS (
            SELECT h, first(model ORDER BY n DESC, model) AS model
            FROM (SELECT h, model, count(model) AS n FROM sent GROUP BY h, model) GROUP BY h
        ), features AS (
            SELECT h, first(feature ORDER BY n DESC, feature) AS feature
            FROM (SELECT h, feature, count(feature) AS n FROM sent GROUP BY h, feature)
            GROUP BY h
        )
        SELECT t.text, t.requests, m.model, f.feature, t.cost, t.input_tokens
        FROM totals t JOIN models m USING (h) JOIN features f USING (h)
        """
    )


def _top(
    rows: list[_Row],
    count: Callable[[str], int],
    top: int,
) -> list[tuple[Decimal, int]]:
    """The `top` rows by input dollars (most first, then by name) and their dollars, counting
    tokens only while a row could still make the cut: a text has at most as many tokens as
    UTF-8 bytes (a byte-level BPE token is at least one byte), so once the `top`-th dollars
    counted exceed every bound still to come, the rest cannot enter."""

    def dollars(k: int, tokens: int) -> Decimal:
        return tokens * rows[k][2] * (rows[k][3] or Decimal(0))

    def most(k: int) -> Decimal:  # no token: the most a negative price (a refund) can come to
        price = rows[k][3] or Decimal(0)
        return dollars(k, len(rows[k][1].encode("utf-8", "surrogatepass")) if price > 0 else 0)

    bound = [most(k) for k in range(len(rows))]
    counted: list[tuple[Decimal, str, int]] = []  # (−dollars, name, row): the sort key
    pending = sorted(range(len(rows)), key=lambda k: -bound[k])
    block = max(top, COUNT_BLOCK)
    for start in range(0, len(pending) if top else 0, block):
        if len(counted) >= top and bound[pending[start]] < -heapq.nsmallest(top, counted)[-1][0]:
            break
        for k in pending[start : start + block]:
            counted.append((-dollars(k, count(rows[k][1])), rows[k][5], k))
    return [(-minus, k) for minus, _, k in heapq.nsmallest(top, counted)]


def usage(store: Store, catalogue: prices.Catalogue, templates: list[Template]) -> dict[str, Usage]:
    """Volume and price of the templates whose text (or static prefix) is in the logs."""
    months = _months(store)
    found: dict[str, Usage] = {}
    for template in templates:
        text = template.text.strip()
        head = protect.PLACEHOLDER.split(text, maxsplit=1)[0]
        for column, how, condition, value in (
            ("system_prompt", "system prompt", "system_prompt_hash = ?", _md5(template.text)),
            ("system_prompt", "system prompt", "trim(system_prompt) = ?", text),
            ("prompt", "prompt", "trim(prompt) = ?", text),
            ("system_prompt", "prefix", "starts_with(system_prompt, ?)", head),
            ("prompt", "prefix", "starts_with(prompt, ?)", head),
        ):
            if how == "prefix" and (len(head) < _MIN_PREFIX_CHARS or head == text):
                continue
            row = store.row(
                f"SELECT count(*), mode(model), sum({_INPUT_COST}), sum(input_tokens) "
                f"FROM requests WHERE {column} IS NOT NULL AND {condition}",
                [value],
            )
            if row and row[0]:
                price, source = _price(row[2], row[3], row[1], catalogue)
                found[template.name] = Usage(row[0], row[0] / months, price, source, how)
                break
    return found


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _months(store: Store) -> Decimal:
    """The logged period in months (30 days), at least one day: volume is per month of it."""
    row = store.row("SELECT epoch(max(ts)) - epoch(min(ts)) FROM requests")
    seconds = Decimal(str(row[0])) if row and row[0] is not None else Decimal(0)
    return max(seconds / 86400, Decimal(1)) / _DAYS_PER_MONTH


def _price(
    cost: Decimal | None, input_tokens: int | None, model: str | None, catalogue: prices.Catalogue
) -> tuple[Decimal | None, str]:
    """The logged effective input price, else the catalogue's input price of the model."""
    if cost and input_tokens:
        return Decimal(cost) / input_tokens, "logged"
    price = input_price(catalogue, model) if model else None
    return price, f"catalogue {model}" if price is not None else "unknown"


def input_price(catalogue: prices.Catalogue, model: str) -> Decimal | None:
    """The latest list input price per token of a model (None: not in the catalogue)."""
    resolution = catalogue.resolve(model)
    if resolution.model is None:
        return None
    points = [p for p in catalogue.points([resolution.model]) if not p.batch and not p.above_tokens]
    points.sort(key=lambda p: p.since)
    return points[-1].input if points else None
