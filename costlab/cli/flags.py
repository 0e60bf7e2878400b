"""The flags several commands share: the --since/--until/--where scope over logged requests."""

from __future__ import annotations

from typing import Annotated

import typer

SinceFlag = Annotated[str | None, typer.Option("--since", help="First day (UTC), YYYY-MM-DD.")]
UntilFlag = Annotated[str | None, typer.Option("--until", help="Last day (UTC), inclusive.")]
WhereFlag = Annotated[
    str | None,
    typer.Option("--where", help="A SQL condition over requests, e.g. \"feature = 'chat'\"."),
]
