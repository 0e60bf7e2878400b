"""How ingest reads its inputs: the options every stage of it is given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from costlab import settings

# Fields that `--map FIELD=PATH` may fill from anywhere in the record.
MAPPABLE = frozenset(
    {"request_id", "provider", "model", "feature", "user_id", "team", "status", "ts"}
)


@dataclass(frozen=True)
class IngestOptions:
    """How to read the inputs."""

    format: str | None = None
    force: bool = False
    strict: bool = False
    redact: bool = False
    no_text: bool = False
    field_map: Mapping[str, str] = field(default_factory=dict)
    max_tokens: int = settings.DEFAULT_MAX_TOKENS  # per token bucket of one request
