"""`--emit DIR`: the changes to make, as files a user can apply.

The cache threshold is a cosine similarity c; each library takes it in its own convention:
RedisVL and LangChain's RedisSemanticCache a cosine *distance* (`distance_threshold = 1 − c`),
LiteLLM's redis-semantic cache a similarity (`similarity_threshold = c`, which it turns into
RedisVL's 1 − c), GPTCache a similarity in [0, 1] (`similarity_threshold = s` with
c ≥ 2s − 1, so s = (1 + c) / 2). A folder that exists and is not empty is refused unless
`force`; everything is written to a temporary folder first and moved in whole.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from costlab.errors import BadInput
from costlab.plan import levers
from costlab.plan.result import Plan
from costlab.prefix.report import PrefixReport


def check(folder: Path, force: bool) -> None:
    """Refuse a folder that is a file, or not empty without `force` (before any work)."""
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"--emit {folder}: is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise BadInput(
            f"--emit {folder}: the folder exists and is not empty",
            "choose a new folder, or add --force to write into it",
        )


def thresholds(cosine: float) -> dict[str, dict[str, float]]:
    """One cosine similarity in each library's convention."""
    return {
        "cosine_similarity": {"min": cosine},
        "redisvl": {"distance_threshold": round(1 - cosine, 6)},
        "langchain_redis": {"distance_threshold": round(1 - cosine, 6)},
        "litellm": {"similarity_threshold": round(cosine, 6)},
        "gptcache": {"similarity_threshold": round((1 + cosine) / 2, 6)},
    }


def write(
    folder: Path,
    force: bool,
    plan: Plan,
    found: dict[str, Any],
    prefix: PrefixReport,
) -> list[str]:
    """Write every file of the plan under `folder`; the paths written, relative to it."""
    check(folder, force)
    files = _files(plan, found, prefix)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".emit-") as tmp:
        staging = Path(tmp)
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for name in files:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staging / name, target)
    return sorted(files)


def _files(plan: Plan, found: dict[str, Any], prefix: PrefixReport) -> dict[str, str]:
    files = {"plan.json": json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"}
    cache = found.get("cache")
    if isinstance(cache, levers.Cache):
        files |= _cache(cache.row.threshold)
    routing = found.get("routing")
    if isinstance(routing, levers.Routing):
        path = Path(routing.policy.path)
        files[f"routing/{path.name}"] = path.read_text(encoding="utf-8")
    compression = found.get("compression")
    if isinstance(compression, levers.Compression):
        for t in compression.templates:
            files[f"compression/{t.name}"] = t.compressed
            files[f"compression/originals/{t.name}"] = t.original
    files["prefix/breakpoints.json"] = _breakpoints(prefix)
    batch = found.get("batch") or []
    if batch:
        listed = ", ".join(json.dumps(f) for f in batch)
        files["batch/costlab.toml"] = (
            "# Features whose calls can go through a provider's batch API (results within 24 h,\n"
            "# at batch prices): costlab reads this table from costlab.toml.\n"
            f"[batch]\nnon_interactive = [{listed}]\n"
        )
    return files


def _cache(cosine: float) -> dict[str, str]:
    t = thresholds(cosine)
    d, s, g = (
        t["redisvl"]["distance_threshold"],
        t["litellm"]["similarity_threshold"],
        t["gptcache"]["similarity_threshold"],
    )
    head = f"# costlab plan: a hit needs cosine similarity >= {cosine:g}.\n"
    distance = f"# {{}} takes a Redis COSINE distance (1 - cosine): 1 - {cosine:g} = {d:g}.\n"
    return {
        "cache/thresholds.json": json.dumps(t, indent=2) + "\n",
        "cache/redisvl.py": head + distance.format("RedisVL") + _REDISVL.format(d=d),
        "cache/langchain_redis.py": head
        + distance.format("langchain-redis")
        + _LANGCHAIN.format(d=d),
        "cache/litellm.yaml": head
        + "# LiteLLM's redis-semantic cache takes the similarity itself (it gives RedisVL 1 - s).\n"
        + _LITELLM.format(s=s),
        "cache/gptcache.py": head
        + f"# GPTCache's similarity_threshold s means cosine >= 2s - 1: s = (1 + {cosine:g}) / 2.\n"
        + _GPTCACHE.format(g=g),
    }


_REDISVL = """from redisvl.extensions.cache.llm import SemanticCache

DISTANCE_THRESHOLD = {d!r}


def semantic_cache(**options):
    \"\"\"RedisVL's SemanticCache at the plan's threshold (options: vectorizer, redis_url...).\"\"\"
    return SemanticCache(name="llmcache", distance_threshold=DISTANCE_THRESHOLD, **options)
"""
_LANGCHAIN = """from langchain_redis import RedisSemanticCache

DISTANCE_THRESHOLD = {d!r}


def semantic_cache(embeddings, **options):
    \"\"\"LangChain's RedisSemanticCache at the plan's threshold (options: redis_url...).\"\"\"
    return RedisSemanticCache(
        embeddings=embeddings, distance_threshold=DISTANCE_THRESHOLD, **options
    )
"""
_LITELLM = """litellm_settings:
  cache: true
  cache_params:
    type: redis-semantic
    similarity_threshold: {s!r}
"""
_GPTCACHE = """from gptcache import Config

config = Config(similarity_threshold={g!r})
"""


def _breakpoints(prefix: PrefixReport) -> str:
    rows = [
        {
            "model": t.model,
            "rule": t.rule,
            "feature": t.feature,
            "template_starts": t.head,
            "breakpoint": t.breakpoint,
            "ttl": t.ttl,
            "cached_prefix_tokens": t.prefix_tokens,
            "saved_usd": str(t.spend.saved_usd),
        }
        for t in prefix.templates
    ]
    return json.dumps({"templates": rows}, indent=2, ensure_ascii=False) + "\n"
