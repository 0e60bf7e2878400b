"""Loops compiled by numba: each made once a process, its machine code cached on disk."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, cast

Function = TypeVar("Function", bound=Callable[..., Any])


@cache
def compiled(function: Function) -> Function:
    """`function` compiled by numba (nogil, cached on disk), or `function` itself without numba."""
    try:
        from numba import njit
    except ImportError:
        return function
    return cast(Function, njit(cache=True, nogil=True)(function))
