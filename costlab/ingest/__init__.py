"""`costlab ingest`: read logs into the `requests` table, one transaction per file.

The package reads top-down, each module importing only those below it (an import-linter
contract keeps it so):

- `run`: the orchestration, one file at a time; `parquet`: datasets and flat Parquet files
- `bulk`: the SQL fast paths (DuckDB maps well-formed records, one module per format);
  `parse_pool`: the per-record path on every core
- `landing`: priced rows from `_stage` into `requests`; `rejects`: reading rejects back
- `conflicts`: same request id, other content
- `staging`: the per-record path (decode, detect, map, redact) and the stage's schema
- `sources`, `options`, `results`: files and lines, what the user asked, what a run reports
"""

from costlab.ingest.options import IngestOptions
from costlab.ingest.results import FileResult, IngestResult
from costlab.ingest.run import ingest

__all__ = ["FileResult", "IngestOptions", "IngestResult", "ingest"]
