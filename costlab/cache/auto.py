"""What `--embedder auto` (simulate-cache's default) means for a run: MiniLM where it is quick
enough, else the fast embedder fitted to the user's own prompts, built on first use.

MiniLM (the reference) embeds ~80-180 short texts a second on a 2-core laptop: 5,000 texts take
about a minute, a month of a busy product (500,000+ distinct texts) about an hour. So `auto` uses
MiniLM when the run has at most `MINILM_UP_TO` distinct texts, or when every one of them already
has a MiniLM vector in the store; otherwise minilm-tuned, ~150x faster, which loses 1.4-2.6
points of hit precision at MiniLM's hit rates on Banking77 and CLINC150 (README, "At scale").
When minilm-tuned is not there yet it is made now: minilm-static distilled from the installed
MiniLM (~80 s), then fitted to a sample of this run's texts (~30 s); both are kept for later runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from costlab.cache import embedders, static, tuned, vectors_only
from costlab.errors import BadInput
from costlab.store import Store

AUTO = "auto"
MINILM_UP_TO = 5_000
Progress = Callable[[str, int, int], None]  # (stage, done, to do)


@dataclass(frozen=True)
class Choice:
    """The embedder a run uses and why."""

    embedder: embedders.Embedder
    reason: str


def choose(
    store: Store,
    name: str,
    keys: list[str],
    key_hashes: list[str],
    progress: Progress | None = None,
) -> Choice:
    """The embedder `name` names (made first when it is a static one not made yet); for `auto`,
    the one this run's size calls for."""
    if name == AUTO:
        minilm = embedders.load(embedders.DEFAULT)
        missing = len(keys) - _stored(store, minilm.name, key_hashes)
        if len(keys) <= MINILM_UP_TO or missing == 0:
            return Choice(minilm, f"auto: {len(keys):,} distinct texts, MiniLM (the reference)")
        reason = (
            f"auto: {missing:,} texts to embed, more than MiniLM embeds quickly "
            f"({MINILM_UP_TO:,}); --embedder minilm for the reference"
        )
        return Choice(_made(embedders.TUNED, keys, progress), reason + _fit_note())
    if name in (embedders.STATIC, embedders.TUNED):
        return Choice(_made(name, keys, progress), f"--embedder {name}" + _fit_note(name))
    chosen = embedders.load(name)
    if isinstance(chosen, vectors_only.VectorsOnly) and not _imported(store, name):
        raise BadInput(
            f"--embedder {name}: not a known embedder, a model folder, or vectors imported here",
            f"use one of auto, {', '.join(embedders.EMBEDDERS)}; or bring vectors: "
            f"costlab embeddings import FILE --embedder {name}",
        )
    return Choice(chosen, f"--embedder {name}")


def _imported(store: Store, name: str) -> bool:
    row = store.row("SELECT count(*) FROM embedding_imports WHERE embedder = ?", [name])
    return bool(row and row[0])


def _made(name: str, keys: list[str], progress: Progress | None) -> embedders.Embedder:
    """minilm-static, or minilm-tuned fitted to `keys`, made now when missing (kept for later)."""
    if static.manifest() is None:
        static.build(progress=_stage(progress, "distilling minilm-static (once)"))
    if name == embedders.TUNED and static.manifest(tuned.folder()) is None:
        step = _stage(progress, "fitting minilm-tuned to your prompts (once)")
        tuned.fitted(keys, tuned.Tuning(corpus=f"{len(keys):,} texts of a run"), None, step)
    return embedders.load(name)


def _fit_note(name: str = embedders.TUNED) -> str:
    made = static.manifest(tuned.folder()) if name == embedders.TUNED else None
    fit = made.fit if made is not None else None
    if not fit:
        return ""
    return (
        f"; fitted on {fit.get('texts', 0):,} prompts, mean similarity error to MiniLM "
        f"{fit.get('similarity_error_after')} on {fit.get('checked_on', 0):,} held out"
    )


def _stored(store: Store, embedder: str, hashes: list[str]) -> int:
    """How many of `hashes` have a vector of `embedder` in the store."""
    store.register("_auto", pa.table({"text_hash": pa.array(hashes, pa.string())}))
    try:
        row = store.row(
            "SELECT count(*) FROM embeddings JOIN _auto USING (text_hash) WHERE embedder = ?",
            [embedder],
        )
    finally:
        store.unregister("_auto")
    return int(row[0]) if row else 0


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
