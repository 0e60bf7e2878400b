"""Which engine runs simulate-cache's heavy stages: `local` (this process) or `ray` (a cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from costlab.cache.engine import Engine, Local
from costlab.errors import BadInput

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineChoice:
    """The engine named, and for Ray which cluster and how much of it."""

    name: str = "local"
    address: str | None = None  # a Ray cluster's address; None: a local instance
    workers: int | None = None  # Ray workers; None: every CPU of the cluster
    device: str = "cpu"  # where the embedder runs: cpu or cuda


@contextmanager
def opened(choice: EngineChoice) -> Iterator[Engine]:
    """The engine, ready; stopped when done (its Ray actors, and a Ray instance it started)."""
    if choice.name == "local":
        if choice.address is not None or choice.workers is not None:
            raise BadInput("--ray-address and --workers are for --engine ray", "add --engine ray")
        yield Local(choice.device)
    elif choice.name == "ray":
        from costlab.distributed import ray_engine  # Ray itself is imported only there

        settings = ray_engine.RaySettings(choice.address, choice.workers, choice.device)
        with ray_engine.RayEngine(settings) as engine:
            yield engine
    else:
        raise BadInput(f"--engine {choice.name}: unknown", f"choose from {', '.join(ENGINES)}")
