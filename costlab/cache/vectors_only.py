"""An embedder costlab cannot run: its vectors were imported (`costlab embeddings import`).

simulate-cache asks an embedder only for the texts whose vectors are not stored under its name;
this one has no model, so it stops there and says how to provide them. It imports nothing of
the embedder registry, which finds it by name (costlab.cache.embedders.load).
"""

from __future__ import annotations

import re
from collections.abc import Collection

import numpy as np
import numpy.typing as npt

from costlab.errors import BadInput

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
BATCH = 256  # the most texts costlab.cache.vectors asks for at once


def is_name(name: str, built_in: Collection[str]) -> bool:
    """Whether `name` can name imported vectors: no path, no built-in embedder's name."""
    return bool(NAME.match(name)) and name not in built_in


class VectorsOnly:
    """Has the `Embedder` interface; any text without an imported vector stops the run."""

    dim = 0  # known from the stored vectors

    def __init__(self, name: str, built_in: Collection[str]) -> None:
        self.name = name
        self._built_in = ", ".join(built_in)

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        many = f"{len(texts)}" if len(texts) < BATCH else f"{len(texts)} or more"
        raise BadInput(
            f"--embedder {self.name}: not a built-in embedder, and {many} texts have no vector "
            "imported under this name",
            f"built-in embedders: {self._built_in}. Vectors from your own model: `costlab "
            f"embeddings export missing.parquet --missing {self.name}`, embed the texts, then "
            f"`costlab embeddings import FILE --embedder {self.name}`",
        )
