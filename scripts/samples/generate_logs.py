"""Seeded generator of LLM request logs: the committed samples, and large files for benchmarks.

    python scripts/samples/generate_logs.py --samples sample_logs/
    python scripts/samples/generate_logs.py --format flat --rows 1000000 --out bench_data/flat.jsonl

Token counts are estimates from text length (about 4 characters a token); logged costs are the
list prices of the catalogue in costlab's price data (LiteLLM 1.110.2), batch at half price.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from large_logs import BULK_FORMATS, write_bulk
from sample_set import BANKING77, write_samples
from sample_traffic import load_bank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--samples", type=Path, help="write the committed sample set into this folder"
    )
    parser.add_argument("--banking77", type=Path, default=BANKING77, help="Banking77 train.csv")
    parser.add_argument("--format", choices=sorted(BULK_FORMATS), default="flat")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="file for --format/--rows")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.samples:
        write_samples(args.samples, load_bank(args.banking77), args.seed)
    elif args.out:
        write_bulk(args.format, args.rows, args.out, args.seed)
    else:
        parser.error("give --samples DIR, or --out FILE (with --format and --rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
