"""Wall time of `costlab tokens check` over N prompt templates, whole process, median of runs.

    python scripts/bench/bench_tokens.py --templates 500 --runs 9

Writes N templates (0.3 to 6 KB, made of the sample system prompts) and their baseline to a
temporary folder, then times, alternately, the bare interpreter start (`python -c pass`) and
the gate as CI runs it (`python -m costlab tokens check prompts`), each in a fresh process with
this checkout first on the path: once with nothing changed (the baseline's md5s spare the
tokenizer), once against a baseline without md5s, so every template is tokenized (the worst
case). Prints a markdown table: median, min and max seconds, and each median as a multiple of
the bare start measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_doc

# The template text is the sample traffic's (scripts/samples/).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
from sample_text import (  # noqa: E402
    CHAT_SYSTEM,
    CODE_REVIEW_RULES,
    HOUSE_STYLE,
    SEARCH_SYSTEM,
    SUMMARIZE_SYSTEM,
    SUPPORT_RULES,
)

ROOT = Path(__file__).resolve().parents[2]
PIECES = [SUPPORT_RULES, CHAT_SYSTEM, SUMMARIZE_SYSTEM, SEARCH_SYSTEM, HOUSE_STYLE]
PIECES.append("\n".join(CODE_REVIEW_RULES))
FEATURES = ["support", "chat", "summarise", "search", "review"]
VARIABLES = ["{{ user_name }}", "{{ document }}", "{question}", "{{ context }}", "{locale}"]


def write_templates(folder: Path, n: int, seed: int = 7) -> int:
    """N templates under folder/prompts/<feature>/; returns their total size in bytes."""
    rng = random.Random(seed)
    total = 0
    for i in range(n):
        parts = rng.sample(PIECES, k=rng.randint(1, 4))
        parts.insert(rng.randrange(len(parts) + 1), f"Context: {rng.choice(VARIABLES)}")
        text = "\n\n".join(parts)[: rng.randint(300, 6000)] + f"\n(template {i})\n"
        path = folder / "prompts" / FEATURES[i % len(FEATURES)] / f"t{i:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode())
    return total


def forget_texts(baseline: Path, copy: Path) -> None:
    """The baseline without its md5s: as if every template changed, so each one is tokenized."""
    data = json.loads(baseline.read_text(encoding="utf-8"))
    for entry in data["templates"].values():
        entry.pop("md5", None)
    copy.write_text(json.dumps(data), encoding="utf-8")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (user + system) of the child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, default=500)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    python = sys.executable
    check = [python, "-m", "costlab", "tokens", "check", "prompts"]
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "costlab tokens check prompts": check,
        "… --baseline every-one-changed.json": [*check, "--baseline", "every-one-changed.json"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        size = write_templates(folder, args.templates)
        timed([python, "-m", "costlab", "tokens", "update", "prompts"], folder, env)
        forget_texts(folder / "costlab-tokens.json", folder / "every-one-changed.json")
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        load = os.getloadavg()[0]
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(timed(command, folder, env))
    bare = statistics.median(wall for wall, _ in times["python -c pass"])
    print(
        f"{args.templates} templates ({size / 1e6:.2f} MB), {args.runs} runs each, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} → {os.getloadavg()[0]:.1f} "
        "(other processes share the CPUs: wall time grows with load, CPU time much less)\n"
    )
    print("| command | median wall s | min s | max s | × bare start | median CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in times.items():
        walls = [wall for wall, _ in values]
        median = statistics.median(walls)
        cpu = statistics.median(c for _, c in values)
        print(
            f"| `{name}` | {median:.3f} | {min(walls):.3f} | {max(walls):.3f} "
            f"| {median / bare:.1f}× | {cpu:.3f} |"
        )


if __name__ == "__main__":
    sys.exit(
        bench_doc.run_section(
            "bench_tokens", "costlab tokens check: 500 templates, whole process", main
        )
    )
