"""Which database and table to read, from a `postgresql://` URL, and how to name it safely.

The URL goes to libpq as given, so everything libpq reads works: `postgresql://` or
`postgres://`, several hosts, a unix socket (`?host=/path`), the PG* environment variables and
`~/.pgpass` for whatever the URL leaves out. Only its label is ever shown or stored: the URL
without the password (user info and `password=` parameters), which is also scrubbed from every
message that could quote it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode

from costlab.errors import BadInput
from costlab.redact import credentials

SCHEMES = ("postgresql://", "postgres://")
DEFAULT_TABLE = "LiteLLM_SpendLogs"
# The query parameters that hold secrets; kept out of the label.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
# Shorter passwords are not searched for in messages (every "e" of a text is not a secret);
# the URL forms that hold them are masked whatever their length.
_MIN_SECRET = 3


@dataclass(frozen=True)
class Target:
    """A table of a PostgreSQL database; `label` is what is shown and stored (no password)."""

    url: str
    label: str
    schema: str | None
    table: str
    secrets: tuple[str, ...]  # the passwords known to this process, scrubbed from messages

    def scrub(self, text: str) -> str:
        """The text without any password that could be in it (a driver's message, say)."""
        text = credentials(text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def is_url(arg: str) -> bool:
    """Whether a command-line input names a PostgreSQL database rather than a file."""
    return arg.lower().startswith(SCHEMES)


def parse(url: str, table: str = DEFAULT_TABLE) -> Target:
    """The target named by a URL and a table name (`name` or `schema.name`, case as written)."""
    rest = url.split("://", 1)[1]
    authority, _, path = rest.partition("/")
    path, _, query = path.partition("?")
    path = path.split("#", 1)[0]
    user_info, at, hosts = authority.rpartition("@")
    user, colon, password = user_info.partition(":")
    parameters = parse_qsl(query, keep_blank_values=True)
    secrets = [unquote(password)] if colon and password else []
    secrets += [value for key, value in parameters if key in _SECRET_PARAMETERS and value]
    if os.environ.get("PGPASSWORD"):
        secrets.append(os.environ["PGPASSWORD"])
    kept = [(key, value) for key, value in parameters if key not in _SECRET_PARAMETERS]
    label = f"{url.split('://', 1)[0]}://{user + '@' if at and user else ''}{hosts}/{path}"
    if kept:
        label += "?" + urlencode(kept, safe="/:,", quote_via=quote)
    schema, _, name = table.rpartition(".") if "." in table else ("", "", table)
    if not name:
        raise BadInput(f"--table {table!r}: no table name", "e.g. --table LiteLLM_SpendLogs")
    return Target(
        url=url,
        label=f"{label}#{table}",
        schema=schema or None,
        table=name,
        secrets=tuple(s for s in secrets if len(s) >= _MIN_SECRET),
    )
