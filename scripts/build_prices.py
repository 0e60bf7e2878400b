"""Build the shipped price catalogue, costlab/data/prices.json, from LiteLLM's price list.

The source is `litellm/model_prices_and_context_window_backup.json` of the litellm 1.110.2 wheel
on PyPI (MIT), kept in the shared data folder. Its release date could not be established offline,
so the catalogue records the day it was built, and says so.

Example: python scripts/build_prices.py ../shared/data/pricing/litellm_model_prices_1.110.2.json
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from costlab.price_import import convert, dumps, read_litellm

SOURCE = "LiteLLM model_prices_and_context_window_backup.json, litellm 1.110.2 (PyPI), MIT"
DEFAULT_INPUT = Path("../shared/data/pricing/litellm_model_prices_1.110.2.json")
OUTPUT = Path(__file__).resolve().parent.parent / "costlab" / "data" / "prices.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?", default=DEFAULT_INPUT)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--built", default=date.today().isoformat(), help="build date (ISO)")
    args = parser.parse_args()
    litellm, sha256 = read_litellm(args.source)
    provenance = {
        "source": SOURCE,
        "source_date": args.built,
        "source_date_is": "build date (the release date of litellm 1.110.2 was not established)",
        "source_sha256": sha256,
    }
    catalogue = convert(litellm, provenance)
    args.out.write_text(dumps(catalogue), encoding="utf-8")
    print(f"{args.out}: {len(catalogue['models'])} models from {args.source}")


if __name__ == "__main__":
    main()
