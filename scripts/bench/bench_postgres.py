"""`costlab ingest postgresql://...` of N spend-log rows from a local PostgreSQL, against COPY.

    python scripts/bench/bench_postgres.py --rows 1000000 --runs 3 [--write]

Starts a temporary cluster (tests/postgres_server.py: initdb, pg_ctl, a unix socket), creates
LiteLLM's `"LiteLLM_SpendLogs"` table with its indexes (tests/data/litellm/spend_logs_table.sql)
and fills it in SQL with N rows shaped like a proxy's (five models, a feature tag and cached
tokens in `metadata`, one row in ten with `messages` and `response`). Then, alternately, each run:

- baseline: `COPY (SELECT * FROM "LiteLLM_SpendLogs" t ORDER BY "startTime", request_id) TO
  STDOUT` read to its end through psycopg (the same rows, in the order costlab reads them);
- costlab: `python -m costlab --db NEW ingest URL --json`, a fresh process into a fresh store,
  timed from process start (imports included); its peak RSS is the process tree's largest.

Prints medians, the ratio of costlab's time to the baseline's, and the goals (within 3x, < 2 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_doc
from benchmark import WRAPPER

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import postgres_server  # noqa: E402  (the cluster the tests start, not a copy)

TABLE_SQL = ROOT / "tests/data/litellm/spend_logs_table.sql"
COPY_SQL = (
    'COPY (SELECT * FROM "LiteLLM_SpendLogs" t ORDER BY t."startTime", t.request_id) TO STDOUT'
)
FILL_SQL = """
INSERT INTO "LiteLLM_SpendLogs" (
    request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens,
    "startTime", "endTime", request_duration_ms, model, model_group, custom_llm_provider,
    "user", metadata, cache_hit, cache_key, request_tags, team_id, end_user, messages,
    response, status
)
SELECT 'chatcmpl-' || md5(i::text), 'acompletion', md5('key' || (i %% 50)::text),
       (p * (ARRAY[2.5, 0.15, 3.0, 0.4, 1.1])[k] + c * (ARRAY[10, 0.6, 15, 1.6, 4.4])[k]) / 1e6,
       p + c, p, c,
       timestamp '2026-11-01' + i * interval '2.5 seconds',
       timestamp '2026-11-01' + i * interval '2.5 seconds' + (200 + c * 20) * interval '1 ms',
       200 + c * 20, models[k], models[k], (ARRAY['openai', 'openai', 'anthropic', 'openai',
       'openai'])[k], 'user-' || (i %% 997),
       jsonb_build_object(
           'user_api_key_alias', 'key-' || (i %% 50),
           'user_api_key_team_id', 'team-' || (i %% 7),
           'requester_metadata', jsonb_build_object('feature', (ARRAY['chat', 'search',
               'support', 'summarize', 'code-review'])[1 + i %% 5]),
           'additional_usage_values', jsonb_build_object('prompt_tokens_details',
               jsonb_build_object('cached_tokens', CASE WHEN i %% 3 = 0 THEN p / 2 ELSE 0 END))),
       'False', 'Cache OFF', jsonb_build_array('feature:chat'), 'team-' || (i %% 7),
       'user-' || (i %% 997),
       CASE WHEN i %% 10 = 0 THEN jsonb_build_array(
           jsonb_build_object('role', 'system', 'content', 'You are a helpful assistant.'),
           jsonb_build_object('role', 'user', 'content', 'Question number ' || i))
       ELSE '{}'::jsonb END,
       CASE WHEN i %% 10 = 0 THEN jsonb_build_object('choices', jsonb_build_array(
           jsonb_build_object('message', jsonb_build_object('role', 'assistant',
               'content', 'An answer of ' || c || ' tokens.'))))
       ELSE '{}'::jsonb END,
       'success'
FROM generate_series(1::bigint, %(rows)s) AS i,
     LATERAL (SELECT 200 + (i * 7919) %% 3000 AS p, 20 + (i * 104729) %% 600 AS c,
                     1 + i %% 5 AS k,
                     ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet-20241022',
                           'gpt-4.1-mini', 'o3-mini'] AS models) AS v
"""


def fill(server: postgres_server.Server, rows: int) -> float:
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(server.url(db="postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {postgres_server.DATABASE}")
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(TABLE_SQL.read_text())
        conn.execute(FILL_SQL, {"rows": rows})
        conn.execute('VACUUM ANALYZE "LiteLLM_SpendLogs"')
    return time.perf_counter() - start


def copy_out(url: str) -> tuple[float, int]:
    """Seconds to read the COPY to its end, and the bytes it sent."""
    import psycopg

    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        size = 0
        with conn.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - start, size


def costlab(url: str, folder: Path) -> dict[str, float]:
    store = folder / f"run-{time.monotonic_ns()}.duckdb"
    command = [sys.executable, "-m", "costlab", "--db", str(store), "ingest", url, "--json"]
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True
    )
    measured = json.loads(done.stdout)
    if measured["rc"] != 0:
        raise SystemExit(f"costlab ingest failed: {measured['stderr'] or measured['stdout']}")
    added = json.loads(measured["stdout"])["totals"]["added"]
    store.unlink()
    return {"wall_s": measured["wall_s"], "peak_mib": measured["peak_kib"] / 1024, "added": added}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bin_dir = postgres_server.binaries()
    if bin_dir is None:
        raise SystemExit(
            "needs PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql)"
        )
    with tempfile.TemporaryDirectory(prefix="costlab-bench-pg-") as tmp:
        for server in postgres_server.start(bin_dir):
            url = server.url()
            filled = fill(server, args.rows)
            copies, runs = [], []
            for _ in range(args.runs):
                copies.append(copy_out(url))
                runs.append(costlab(url, Path(tmp)))
            _report(args.rows, filled, copies, runs)
    return 0


def _report(
    rows: int, filled: float, copies: list[tuple[float, int]], runs: list[dict[str, float]]
) -> None:
    copy_s = statistics.median(c[0] for c in copies)
    ingest_s = statistics.median(r["wall_s"] for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    ratio = ingest_s / copy_s
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{rows:,} rows made in {filled:.0f} s; median of {len(runs)} run(s), alternating.")
    print(f"Load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores", end="")
    print(" — measured under load: the machine was shared\n" if os.getloadavg()[1] > 1.5 else "\n")
    print("| reader | rows | wall (s) | rows/s | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| COPY (SELECT * ...) TO STDOUT, read through psycopg | {rows:,} | {copy_s:.2f} | "
        f"{rows / copy_s:,.0f} | |"
    )
    print(
        f"| costlab ingest postgresql://... (whole process) | {rows:,} | {ingest_s:.2f} | "
        f"{rows / ingest_s:,.0f} | {peak:,.0f} |"
    )
    print(
        f"\n- COPY sent {copies[0][1] / 1e6:,.0f} MB; costlab added {int(runs[0]['added']):,} rows"
    )
    met = "met" if ratio <= 3 else "NOT met"
    print(f"- costlab takes {ratio:.1f}x the time of the COPY (goal: within 3x) — {met}")
    met = "met" if peak < 2048 else "NOT met"
    print(f"- peak RSS {peak:,.0f} MiB (goal: < 2 GB) — {met}")


if __name__ == "__main__":
    sys.exit(bench_doc.run_section("bench_postgres", "ingest from PostgreSQL (issue 20)", main))
