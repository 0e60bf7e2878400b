"""The logged requests a cache simulation replays, read from the store as columns, not rows.

Requests in scope with a timestamp, in time order (ties by request id); a request without the key
text is left out and counted. Each distinct text is normalised once (on every core when there
are many) and each distinct key hashed once; keys are numbered in text_hash order, the order of
the index kept in the store.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from costlab.cache import simulate
from costlab.cache.dollars import Dollars
from costlab.cache.normalize import normalize
from costlab.cache.vectors import text_hash
from costlab.errors import BadInput
from costlab.scope import Scope
from costlab.store import Store

KEYS = {
    "prompt": "prompt",
    "system+prompt": "concat_ws(chr(10), system_prompt, prompt)",
    "messages": "CAST(messages AS VARCHAR)",
}
SCOPE_COLUMNS = ("model", "feature", "system_prompt", "user_id", "team", "provider")
PARALLEL_FROM = 50_000  # distinct texts from which normalising is spread over the cores
_METADATA_KEY = re.compile(r"^metadata\.([A-Za-z0-9_\-]+)$")


class Texts(Sequence[str]):
    """One text per request, held once per distinct text."""

    def __init__(self, ids: npt.NDArray[np.int64], distinct: list[str]) -> None:
        self._ids, self._distinct = ids, distinct

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        """Per item, its position in `distinct`."""
        return self._ids

    @property
    def distinct(self) -> list[str]:
        """Each distinct text once."""
        return self._distinct

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self._distinct[k] for k in self._ids[i].tolist()]
        return self._distinct[int(self._ids[i])]


@dataclass(frozen=True)
class Logged:
    """The requests in scope, in time order, as the simulation and the metrics need them."""

    request_ids: list[str]
    keys: list[str]  # the distinct cache keys, in text_hash order (the index's key order)
    key_hashes: list[str]
    prompts: Texts  # per request, the key text as logged (before normalising)
    traffic: simulate.Traffic
    dollars: Dollars  # the logged cost of each request (0 when unknown)
    tokens: npt.NDArray[np.int64]
    latency_ms: npt.NDArray[np.float64]
    responses: list[str]  # the distinct logged responses
    response_ids: npt.NDArray[np.int64]  # per request, its response in `responses` (-1: none)
    response_bytes: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64] | None  # per request a label code (-1: no label)
    skipped: int


def load(
    store: Store,
    scope: Scope,
    *,
    key: str = "prompt",
    normalized: bool = True,
    cache_scope: tuple[str, ...] = (),
    label: str | None = None,
) -> Logged:
    """The requests in `scope`, keyed by `key` (normalised), scoped and labelled as asked."""
    where, params = scope.sql()
    columns = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in cache_scope) or "''"
    table = store.arrow(
        f"""
        SELECT {KEYS[key]} AS text, epoch(ts) AS ts,
               coalesce(CAST(floor(cost_usd * 1000000) AS BIGINT), 0) AS micro,
               coalesce(CAST((cost_usd * 1000000 - floor(cost_usd * 1000000)) * 1000000000000
                   AS BIGINT), 0) AS atto,
               coalesce(input_tokens, 0) + coalesce(output_tokens, 0) AS tokens,
               CAST(coalesce(latency_ms, 0) AS DOUBLE) AS latency_ms,
               response, coalesce(strlen(response), 0) AS response_bytes,
               {_label_sql(store, label)} AS label,
               concat_ws(chr(31), {columns}) AS scope, request_id
        FROM requests{where}{" AND" if where else " WHERE"} ts IS NOT NULL
        ORDER BY ts, request_id
        """,
        params,
    )
    total = table.num_rows
    table = table.filter(pc.fill_null(pc.greater(pc.utf8_length(table["text"]), 0), False))
    raw, raw_ids = _codes(table["text"])
    key_of_raw, keys, hashes = _keys(raw, normalized)
    responses, response_ids = _codes(table["response"])
    labels = _codes(table["label"])[1] if label else None

    def ints(name: str) -> npt.NDArray[np.int64]:
        return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=np.int64)

    def floats(name: str) -> npt.NDArray[np.float64]:
        return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=np.float64)

    traffic = simulate.Traffic(
        ts=floats("ts"),
        scope=_codes(table["scope"])[1],
        keys=key_of_raw[raw_ids],
    )
    return Logged(
        request_ids=table["request_id"].to_pylist(),
        keys=keys,
        key_hashes=hashes,
        prompts=Texts(raw_ids, raw),
        traffic=traffic,
        dollars=Dollars(ints("micro"), ints("atto")),
        tokens=ints("tokens"),
        latency_ms=floats("latency_ms"),
        responses=responses,
        response_ids=response_ids,
        response_bytes=ints("response_bytes"),
        labels=labels,
        skipped=total - table.num_rows,
    )


def _codes(column: pa.ChunkedArray) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct values of a string column, and each row's position among them (-1: null)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    ids = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return encoded.dictionary.to_pylist(), ids


def _keys(raw: list[str], normalized: bool) -> tuple[npt.NDArray[np.int64], list[str], list[str]]:
    """Per distinct logged text its key id; the keys and their hashes, in hash order."""
    texts = _normalized(raw) if normalized else raw
    # the distinct keys (in order of first appearance), and per text its key, found by Arrow
    encoded = pc.dictionary_encode(pa.array(texts, pa.large_string()))
    distinct = encoded.dictionary.to_pylist()
    hashes = [text_hash(t) for t in distinct]
    order = np.argsort(np.array(hashes, dtype="S32"), kind="stable")
    ordered = [hashes[k] for k in order.tolist()]
    if any(
        a == b for a, b in zip(ordered, ordered[1:], strict=False)
    ):  # two keys of one hash: by text
        order = np.array(sorted(range(len(distinct)), key=lambda k: (hashes[k], distinct[k])))
        ordered = [hashes[k] for k in order.tolist()]
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[order] = np.arange(len(distinct))
    key_of_raw: npt.NDArray[np.int64] = rank[encoded.indices.to_numpy()]
    return key_of_raw, [distinct[k] for k in order.tolist()], ordered


def _normalized(texts: list[str]) -> list[str]:
    cores = os.cpu_count() or 1
    if len(texts) < PARALLEL_FROM or cores < 2:
        return [normalize(t) for t in texts]
    chunk = -(-len(texts) // (cores * 4))
    with ProcessPoolExecutor(cores, mp_context=get_context("fork")) as pool:
        parts = pool.map(
            _normalize_all, [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
        )
        return [t for part in parts for t in part]


def _normalize_all(texts: list[str]) -> list[str]:
    return [normalize(t) for t in texts]


def _label_sql(store: Store, label: str | None) -> str:
    if label is None:
        return "NULL"
    found = _METADATA_KEY.match(label)
    if found:
        return f"json_extract_string(metadata, '$.{found.group(1)}')"
    columns = {r[0] for r in store.rows("SELECT column_name FROM (DESCRIBE requests)")}
    if label not in columns:
        raise BadInput(
            f"--label {label}: not a column of requests",
            "give a column (e.g. feature) or metadata.KEY for a field kept in metadata",
        )
    return f"CAST({label} AS VARCHAR)"
