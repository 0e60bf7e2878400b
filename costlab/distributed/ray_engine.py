"""simulate-cache on Ray: the texts embedded by Ray Data, the neighbour search in parallel parts.

`costlab simulate-cache --engine ray [--ray-address HOST:PORT] [--workers N] [--device cuda]`;
Ray is imported here alone, and only when this engine is chosen (`pip install 'costlab[ray]'`).

- Embedding: a Ray Data `map_batches` over the texts still to embed, with the embedder as a
  stateful class (one per worker: each loads its model once). The blocks are cut at multiples of
  `vectors.BATCH`, so each call embeds the very batch the single process would, and the vectors
  come back in order and are saved to the store as they arrive (an interrupted run resumes).
  With `--device cuda` each worker holds one GPU.
- Neighbours: when the traffic splits by cache scope or, with a TTL, by time window
  (costlab.distributed.partitions, costlab.distributed.windows) and the search is exact, each
  group of scopes or windows is replayed by one Ray task over its own keys. Otherwise
  the single process's search (every key, or the index, built here once) is copied to one actor
  per worker, and each search's blocks of queries are answered there, in order.

Either way the replay is the single process's, hit for hit: the same vectors, and a search that
finds the same pairs. No scheduler of costlab's own: Ray places the tasks and actors.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from costlab.cache import entries, index
from costlab.cache.engine import Engine, placed
from costlab.cache.minilm import DEVICES, Embedder
from costlab.cache.search import BLOCK, Among, Pairs, Progress, Search
from costlab.cache.vectors import BATCH
from costlab.distributed import windows
from costlab.errors import BadInput, CostlabError, EngineError
from costlab.store import Store

RAY_INSTALL = "pip install 'costlab[ray]'"
BLOCK_BATCHES = 8  # embedding batches per Ray Data block
CONNECT_TIMEOUT_S = 5.0  # an address that does not answer by then is refused, not waited on
DEFAULT_PORT, CLIENT_PORT = 6379, 10001  # `ray start --head`'s GCS port and the Ray Client's
GROUPS_PER_WORKER = 4  # scope or window groups per worker: small enough to balance uneven ones
R = TypeVar("R")


@dataclass(frozen=True)
class RaySettings:
    """Which cluster and how much of it."""

    address: str | None = None  # None: a local instance started for the run
    workers: int | None = None  # None: every CPU of the cluster
    device: str = "cpu"


class RayEngine(Engine):
    """The embedding and the neighbour search on a Ray cluster (a context manager)."""

    name = "ray"

    def __init__(self, settings: RaySettings) -> None:
        if settings.device not in DEVICES:
            raise BadInput(f"--device {settings.device}: unknown", f"choose from {DEVICES}")
        if settings.workers is not None and settings.workers < 1:
            raise BadInput(f"--workers {settings.workers}: must be at least 1")
        self.settings, self.device = settings, settings.device
        if settings.address is not None:
            _reachable(settings.address)  # first: refused at once, before Ray's slow import
        self._ray = _import_ray()
        self._started = _connect(self._ray, settings)
        self._actors: list[Any] = []
        self._shared: tuple[Any, Any] | None = None  # the last object tasks shared, and its ref
        self._how = "none searched"
        try:
            resources = self._ray.cluster_resources()
            self.workers = settings.workers or max(1, int(resources.get("CPU", 1)))
            self.gpus = int(resources.get("GPU", 0))
            if self.device == "cuda" and not self.gpus:
                raise BadInput(
                    f"--device cuda: the Ray cluster at {self._where()} has no GPU",
                    "start the workers where GPUs are (ray start --num-gpus N), or --device cpu",
                )
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the actors of this run, and the local instance when this run started it."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors, self._shared = [], None
        if self._started:
            self._ray.shutdown()
            self._started = False

    def describe(self) -> str:
        return (
            f"ray ({self._where()}, {self.workers} workers, {self.device}; neighbours {self._how})"
        )

    def _where(self) -> str:
        return self.settings.address or "a local instance"

    def encode(self, embedder: Embedder, texts: list[str]) -> Iterable[npt.NDArray[np.float32]]:
        if not texts:
            return iter(())
        data = self._ray.data
        context = data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the vectors come back in order
        context.enable_progress_bars = False  # costlab shows its own
        table = pa.table({"text": pa.array(texts, pa.large_string())})
        rows = BATCH * BLOCK_BATCHES
        blocks = [table.slice(s, rows) for s in range(0, len(texts), rows)]
        cuda = self.device == "cuda"
        actors = min(len(blocks), self.gpus if cuda else self.workers)
        dataset = data.from_arrow(blocks).map_batches(
            Embed,
            fn_constructor_kwargs={"embedder": embedder, "device": self.device},
            batch_size=BATCH,
            batch_format="numpy",
            compute=data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            num_gpus=1 if cuda else 0,
        )
        return self._vectors(dataset)

    def _vectors(self, dataset: Any) -> Iterator[npt.NDArray[np.float32]]:
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                yield np.asarray(batch["vector"], dtype=np.float32)
        except Exception as err:  # a worker's error arrives wrapped: show the costlab one
            _reraise(err)

    def replay(
        self,
        store: Store,
        request: index.Request,
        vectors: index.Vectors,
        progress: entries.Progress | None = None,
    ) -> index.Replayed:
        pieces = GROUPS_PER_WORKER * self.workers
        if request.mode == "exact" and windows.splits(request.traffic, request.settings, pieces):
            return self._partitioned(request, vectors(), progress)
        return index.replay(store, request, vectors, progress, self._search)

    def _search(self, vectors: npt.NDArray[np.float32], mode: index.Mode) -> Search:
        search = RaySearch(index.searcher(vectors, mode), self._ray, self.workers)
        self._actors += search.actors
        self._how = f"{mode}, query blocks on {len(search.actors)} actors"
        return search

    def _partitioned(
        self,
        request: index.Request,
        vectors: npt.NDArray[np.float32],
        progress: entries.Progress | None,
    ) -> index.Replayed:
        """Each group of scopes, or of time windows, replayed by one Ray task; merged exactly."""

        def run(task: Callable[[Any, Any], R], shared: Any, items: Sequence[Any]) -> list[R]:
            return self._run(task, shared, items, progress)

        pieces = GROUPS_PER_WORKER * self.workers
        try:
            split = windows.replay(
                request.traffic, vectors, request.thresholds, request.settings, run, pieces
            )
        finally:
            self._shared = None  # the vectors leave the object store
        self._how = f"exact, by scope: {split.scopes:,} scopes in {split.tasks:,} Ray tasks"
        if split.windows > split.scopes:
            self._how = (
                f"exact, by scope and time window: {split.scopes:,} scopes, {split.windows:,} "
                f"windows ({split.fixed:,} replayed again after their halo) in {split.tasks:,} "
                "Ray tasks"
            )
        built = entries.Built(split.results, split.lists, split.rounds, split.searched)
        return index.Replayed(built, "exact", reused=False, new_keys=0)

    def _run(
        self,
        task: Callable[[Any, Any], R],
        shared: Any,
        items: Sequence[Any],
        progress: entries.Progress | None,
    ) -> list[R]:
        """`task(shared, item)` as one Ray task per item (`shared` put once); answers in order."""
        remote = self._ray.remote(num_cpus=1)(task)
        if self._shared is None or self._shared[0] is not shared:  # the vectors: put once
            self._shared = (shared, self._ray.put(shared))
        common = self._shared[1]
        pending = {remote.remote(common, item): at for at, item in enumerate(items)}
        answers: dict[int, R] = {}
        try:
            while pending:
                ready, _ = self._ray.wait(list(pending), num_returns=1)
                answers[pending.pop(ready[0])] = self._ray.get(ready[0])
                if progress:
                    progress("neighbours", len(answers), len(items))
        except Exception as err:
            _reraise(err)
        return [answers[at] for at in range(len(items))]


class Embed:
    """One worker's embedder, made once per worker: a batch of texts to their vectors."""

    def __init__(self, embedder: Embedder, device: str) -> None:
        self.embedder = placed(embedder, device)

    def __call__(self, batch: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[np.float32]]:
        return {"vector": self.embedder.encode([str(t) for t in batch["text"]])}


class SearchWorker:
    """An actor holding a copy of one search: answers blocks of its queries."""

    def __init__(self, search: Search) -> None:
        self.search = search

    def within(self, queries: npt.NDArray[np.int64], radius: float, among: Among = None) -> Pairs:
        return self.search.within(queries, radius, among=among)

    def nearest(self, k: int, queries: npt.NDArray[np.int64]) -> Pairs:
        return self.search.nearest(k, queries=queries)


class RaySearch(Search):
    """A search (exact, or the index) whose query blocks are answered by actors, in order.

    Each actor holds the same search, so each block gets the answer the single process gives it.
    """

    def __init__(self, inner: Search, ray: Any, workers: int) -> None:
        super().__init__(inner.vectors)
        self.kind, self.finds_all = inner.kind, inner.finds_all
        self._inner = inner
        shared = ray.put(inner)
        worker = ray.remote(num_cpus=1)(SearchWorker)
        blocks = -(-self.n // BLOCK)  # the most blocks one question has: more actors would idle
        self.actors = [worker.remote(shared) for _ in range(max(1, min(workers, blocks)))]
        self._pool = ray.util.ActorPool(self.actors)

    def _candidates(
        self,
        queries: npt.NDArray[np.int64],
        radius: float | None,
        k: int,
        among: Among = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        return self._inner._candidates(queries, radius, k, among)

    def _answers(
        self,
        queries: npt.NDArray[np.int64],
        ask: Callable[[Any, npt.NDArray[np.int64]], Any],  # (actor, block) -> its answer's ref
        progress: Progress | None,
    ) -> Iterator[Pairs]:
        blocks = [queries[s : s + BLOCK] for s in range(0, len(queries), BLOCK)]
        try:
            for done, pairs in enumerate(self._pool.map(ask, blocks), start=1):
                yield pairs
                if progress:
                    progress(min(done * BLOCK, len(queries)), len(queries))
        except Exception as err:
            _reraise(err)

    def within_blocks(
        self,
        queries: npt.NDArray[np.int64],
        radius: float,
        progress: Progress | None = None,
        among: Among = None,
    ) -> Iterator[Pairs]:
        return self._answers(queries, lambda a, b: a.within.remote(b, radius, among), progress)

    def nearest(
        self,
        k: int,
        progress: Progress | None = None,
        queries: npt.NDArray[np.int64] | None = None,
    ) -> Pairs:
        if queries is None:
            queries = np.arange(self.n, dtype=np.int64)
        parts = list(self._answers(queries, lambda a, b: a.nearest.remote(k, b), progress))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        u, v, s = zip(*parts, strict=True)
        return np.concatenate(u), np.concatenate(v), np.concatenate(s)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
        import ray.util
    except ImportError:
        raise BadInput("--engine ray needs Ray, which is not installed", RAY_INSTALL) from None
    return ray


def _connect(ray: Any, settings: RaySettings) -> bool:
    """Join the cluster at the address, or start a local instance; True when this run did."""
    for name in ("ray", "ray.data"):  # costlab reports what matters; Ray's INFO lines are noise
        logging.getLogger(name).setLevel(logging.ERROR)
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if settings.address is None:
        try:
            ray.init(num_cpus=settings.workers, include_dashboard=False, **quiet)
        except Exception as err:  # Ray raises a bare Exception when its processes start late
            raise EngineError(
                f"could not start a local Ray instance: {err}",
                "try again when the machine is less busy, or start one with `ray start --head` "
                "and give --ray-address",
            ) from None
        return True
    try:
        ray.init(address=settings.address, **quiet)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as err:
        raise BadInput(f"--ray-address {settings.address}: {err}", _HINT) from None
    return True


_HINT = (
    "start the head node with `ray start --head` and give its address (HOST:6379, or "
    "ray://HOST:10001), or leave --ray-address out for a local instance"
)


def _reachable(address: str) -> None:
    """Refuse at once an address where nothing answers (Ray itself would retry for minutes)."""
    if address == "auto":
        return
    client = address.startswith("ray://")
    host, _, port = address.removeprefix("ray://").partition(":")
    try:
        number = int(port) if port else (CLIENT_PORT if client else DEFAULT_PORT)
    except ValueError:
        raise BadInput(f"--ray-address {address}: not HOST:PORT", _HINT) from None
    try:
        socket.create_connection((host, number), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise BadInput(
            f"--ray-address {address}: no Ray cluster answers there ({reason})", _HINT
        ) from None


def _reraise(err: BaseException) -> NoReturn:
    """Raise the costlab error a Ray worker raised (Ray wraps it), else `err` as it is."""
    cause: BaseException | None = err
    while cause is not None:
        found = getattr(cause, "cause", None)
        if isinstance(found, CostlabError):
            raise found from None
        cause = found if isinstance(found, BaseException) else cause.__cause__
    raise err
