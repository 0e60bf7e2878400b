"""scikit-learn, imported here alone and only when a clustering or a measure needs it."""

from __future__ import annotations

from typing import Any

from costlab.errors import CostlabError

PACKAGE = "scikit-learn"


def agglomerative() -> Any:
    """`sklearn.cluster.AgglomerativeClustering`."""
    _check()
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering


def metrics() -> Any:
    """`sklearn.metrics`."""
    _check()
    from sklearn import metrics as found

    return found


def _check() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise CostlabError(
            f"costlab intents needs {PACKAGE}, which is not installed",
            "pip install 'costlab[intents]'",
        ) from None
