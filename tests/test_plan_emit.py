"""The cache settings `costlab plan --emit` writes, loaded through each library's own code.

Each library that installs offline (the `plan-check` extra) loads the emitted file as a user
would, and the threshold it holds must give back the plan's cosine similarity. No Redis server is
needed: the caches are built without creating their index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from costlab.plan import emit

COSINES = [0.8, 0.92, 0.97]


def _load(tmp_path: Path, cosine: float, name: str) -> dict[str, Any]:
    """Run the emitted Python file `name` as a user would, and return what it defines."""
    files = emit._cache(cosine)
    path = tmp_path / name
    path.write_text(files[f"cache/{name}"])
    scope: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    return scope


@pytest.mark.parametrize("cosine", COSINES)
def test_conventions_round_trip(cosine: float) -> None:
    t = emit.thresholds(cosine)
    assert 1 - t["redisvl"]["distance_threshold"] == pytest.approx(cosine)
    assert 1 - t["langchain_redis"]["distance_threshold"] == pytest.approx(cosine)
    assert 2 * t["gptcache"]["similarity_threshold"] - 1 == pytest.approx(cosine)
    assert t["litellm"]["similarity_threshold"] == pytest.approx(cosine)


@pytest.mark.parametrize("cosine", COSINES)
def test_redisvl_loads_the_emitted_cache(tmp_path: Path, cosine: float) -> None:
    pytest.importorskip("redisvl")
    from redisvl.extensions.cache.llm import SemanticCache
    from redisvl.utils.utils import norm_cosine_distance
    from redisvl.utils.vectorize import CustomVectorizer

    scope = _load(tmp_path, cosine, "redisvl.py")
    cache = scope["semantic_cache"](
        vectorizer=CustomVectorizer(embed=lambda text: [1.0, 0.0, 0.0, 0.0]),
        redis_url="redis://localhost:1",
        create_index=False,
    )
    assert isinstance(cache, SemanticCache)
    assert 1 - cache.distance_threshold == pytest.approx(cosine)
    # RedisVL's own normalised similarity of that distance is GPTCache's s: (1 + cosine) / 2.
    gptcache = emit.thresholds(cosine)["gptcache"]["similarity_threshold"]
    assert norm_cosine_distance(cache.distance_threshold) == pytest.approx(gptcache)


@pytest.mark.parametrize("cosine", COSINES)
def test_gptcache_loads_the_emitted_config(tmp_path: Path, cosine: float) -> None:
    gptcache = pytest.importorskip("gptcache")
    config = _load(tmp_path, cosine, "gptcache.py")["config"]
    assert isinstance(config, gptcache.Config)
    assert 2 * config.similarity_threshold - 1 == pytest.approx(cosine)


@pytest.mark.parametrize("cosine", COSINES)
def test_litellm_loads_the_emitted_cache_params(
    tmp_path: Path, cosine: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price fetch on import
    pytest.importorskip("litellm")
    from litellm.caching.redis_semantic_cache import RedisSemanticCache

    settings = yaml.safe_load(emit._cache(cosine)["cache/litellm.yaml"])["litellm_settings"]
    params = dict(settings["cache_params"])
    assert params.pop("type") == "redis-semantic"
    cache = RedisSemanticCache(redis_url="redis://localhost:1", **params)
    assert cache.similarity_threshold == pytest.approx(cosine)
    assert 1 - cache.distance_threshold == pytest.approx(cosine)  # what it gives RedisVL
