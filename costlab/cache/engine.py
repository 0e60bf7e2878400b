"""Where simulate-cache's two heavy stages run: embedding the texts, and the neighbour search
behind the replay.

`Local` runs both in this process, as costlab always has. Another engine (costlab.distributed:
Ray) runs them elsewhere and must give the same answers: the same vectors for the same texts in
the same order, and the same replay (costlab.cache.index) of every threshold. Everything else a
run does (reading the traffic, the metrics, what is written to the store) stays in this process,
so the store tables a run writes are the same whichever engine ran it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from costlab.cache import entries, index
from costlab.cache.minilm import Embedder, check_device
from costlab.cache.vectors import in_batches
from costlab.store import Store


class Engine(ABC):
    """Runs the embedding and the neighbour search of one simulate-cache run."""

    name: str

    @abstractmethod
    def encode(self, embedder: Embedder, texts: list[str]) -> Iterable[npt.NDArray[np.float32]]:
        """The texts' unit vectors as consecutive batches, in order."""

    @abstractmethod
    def replay(
        self,
        store: Store,
        request: index.Request,
        vectors: index.Vectors,
        progress: entries.Progress | None = None,
    ) -> index.Replayed:
        """Every threshold's replay over neighbour lists, as `costlab.cache.index.replay`."""

    def describe(self) -> str:
        """Where it ran, for the report."""
        return self.name


class Local(Engine):
    """Both stages in this process."""

    name = "local"

    def __init__(self, device: str = "cpu") -> None:
        check_device(device)
        self.device = device

    def encode(self, embedder: Embedder, texts: list[str]) -> Iterable[npt.NDArray[np.float32]]:
        return in_batches(placed(embedder, self.device))(texts)

    def replay(
        self,
        store: Store,
        request: index.Request,
        vectors: index.Vectors,
        progress: entries.Progress | None = None,
    ) -> index.Replayed:
        return index.replay(store, request, vectors, progress)


def placed(embedder: Embedder, device: str) -> Embedder:
    """The embedder on `device`; on the CPU, as it is (every embedder runs there)."""
    return embedder if device == "cpu" else embedder.on(device)
