"""`costlab ingest postgresql://...`: a LiteLLM proxy's spend logs, read from its database.

- `target`: the URL and table, and the label (the URL without its password) that is shown and
  stored as the run's `source_file`
- `reader`: psycopg 3 (imported only here), a read-only transaction, `COPY ... TO STDOUT` of
  each row as JSON (`row_to_json`) in chunks; DuckDB maps the well-formed rows in SQL
  (`ingest.bulk.litellm_spend`), the `litellm_spend_log` file format parses the others (the
  same mapping, pricing, rejects)
- `watermark`: which rows a run reads (after the last run's watermark, less an overlap window)
- `load`: one run, in one transaction of the store, its watermark written with it
"""

from costlab.postgres.load import DatabaseSource, ingest
from costlab.postgres.target import DEFAULT_TABLE, is_url

__all__ = ["DEFAULT_TABLE", "DatabaseSource", "ingest", "is_url"]
