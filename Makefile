# Two commands set everything up: `make demo` and `make test`. Each creates .venv when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := $(VENV)/demo.duckdb

.PHONY: demo test check lint format bench bench-cache bench-cache-scale bench-ingest-formats bench-intents bench-guard bench-plan bench-ray bench-10m bench-postgres clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB)
	$(BIN)/costlab --db $(DEMO_DB) ingest sample_logs/
	$(BIN)/costlab --db $(DEMO_DB) report --html demo-report.html
	$(BIN)/costlab --db $(DEMO_DB) plan --policy examples/plan/support-mini.toml \
		--policy examples/plan/mini-first.toml --min-quality 8 --batch-feature summarize

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff format --check costlab tests scripts
	$(BIN)/ruff check costlab tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

format: $(STAMP)
	$(BIN)/ruff format costlab tests scripts
	$(BIN)/ruff check --fix costlab tests scripts

# Each script writes its own section of BENCHMARKS.md (scripts/bench/bench_doc.py). The embedder
# comparison needs `costlab embedders distill` and, once its store exists,
# `costlab embedders distill --corpus bench_data/compare_embedders.duckdb` (minilm-tuned).
bench: $(STAMP)
	$(BIN)/python scripts/bench/benchmark.py
	$(BIN)/python scripts/bench/bench_tokens.py --write
	$(BIN)/python scripts/bench/bench_prefix.py --write
	$(BIN)/python scripts/bench/bench_compress.py --write
	$(BIN)/python scripts/bench/bench_routing.py --logs bench_data/flat_1000000.jsonl --write
	$(BIN)/python scripts/bench/compare_embedders.py --db bench_data/compare_embedders.duckdb --embedders minilm,minilm-int8,paraphrase-l3,minilm-static,minilm-tuned --write

# The GPTCache baseline needs `$(BIN)/pip install -e '.[bench]'`; without it, it is skipped.
bench-cache: $(STAMP)
	$(BIN)/python scripts/bench/bench_cache.py

# simulate-cache over 1,000,000 requests (scripts/samples/scale_logs.py) end to end, and the neighbour
# stage against the exact search: about 40 minutes on 2 cores. Writes its BENCHMARKS.md section.
bench-cache-scale: $(STAMP)
	$(BIN)/python scripts/bench/bench_cache_scale.py --write

# costlab ingest of every log format (200,000 records each) against DuckDB's read_json of the
# same file, and the re-ingest of a 1 GB file after 1 MB was appended. Writes its section.
bench-ingest-formats: $(STAMP)
	$(BIN)/python scripts/bench/bench_ingest_formats.py --write

# costlab intents: agreement with Banking77's and CLINC150's intents (MiniLM vectors, embedded
# once), sample-and-assign against the full clustering, and 100,000 / 1,000,000 requests end to
# end (scripts/samples/scale_logs.py, minilm-tuned). Writes its BENCHMARKS.md section.
bench-intents: $(STAMP)
	$(BIN)/python scripts/bench/bench_intents.py --write

# The false-hit guard and the label-free precision estimate on labelled sets from ../shared/data
# (Banking77, CLINC150, GPTCache pairs, MT-Bench answers): MiniLM embeds ~30,000 texts the first
# time (about 10 minutes on 2 idle cores; kept in bench_data/). Writes two BENCHMARKS.md sections.
bench-guard: $(STAMP)
	$(BIN)/python scripts/bench/bench_guard.py --write
	$(BIN)/python scripts/bench/bench_answers.py --write

# costlab plan over 100,000 and 1,000,000 requests (scripts/samples/scale_logs.py; the issue's
# figure is the 1M one) against the commands it composes, with wall, CPU and peak RSS, and
# standalone against stacked on sample_logs/ and Banking77. Writes its BENCHMARKS.md section.
# The first 1M run also builds the data and stores the cache's vectors and neighbour lists (the
# longest part); PLAN_SIZES=100000 for a quick run.
PLAN_SIZES ?= 100000,1000000
bench-plan: $(STAMP)
	$(BIN)/python scripts/bench/bench_plan.py --sizes $(PLAN_SIZES) --write

# simulate-cache on a local 2-CPU Ray instance against the single process, on the same 100,000
# requests (MiniLM embedding on 2,000, the exact search by scope on 20,000): about 25 minutes on
# 2 cores. Writes its section after each pair of runs.
bench-ray: $(STAMP)
	$(BIN)/python scripts/bench/bench_ray.py --write

# report and route-replay over 10,000,000 flat requests (DuckDB out of core), peak RSS stated:
# about 40 minutes on 2 cores, generating the 3.5 GB file included. Writes its section.
bench-10m: $(STAMP)
	$(BIN)/python scripts/bench/bench_10m.py --write

# 1,000,000 LiteLLM spend-log rows from a temporary local PostgreSQL (initdb, pg_ctl) against
# COPY ... TO STDOUT of the same rows: about 10 minutes on 2 cores. Writes its BENCHMARKS.md section.
bench-postgres: $(STAMP)
	$(BIN)/python scripts/bench/bench_postgres.py --rows 1000000 --runs 3 --write

clean:
	rm -rf $(VENV) build *.egg-info
