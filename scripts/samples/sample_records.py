"""Sample records of one request in the providers' own formats: flat, OpenAI and Anthropic."""

from __future__ import annotations

import random
from typing import Any

from sample_traffic import SNAPSHOTS, Request, epoch, iso


def ident(rng: random.Random, size: int, alphabet: str = "0123456789abcdef") -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def uuid(rng: random.Random) -> str:
    h = ident(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def flat_record(req: Request) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": req.request_id,
        "timestamp": iso(req.ts),
        "model": req.model,
        "input_tokens": req.prompt_tokens,
        "output_tokens": req.output,
        "cache_hit": req.cached > 0,
        "cost": req.cost,
        "user_id": req.user_id,
        "feature": req.feature,
        "duration_ms": req.latency_ms,
        "prompt": req.turns[-1]["content"],
        "system_prompt": req.system,
        "response": req.answer,
    }
    if req.cached:
        record["cached_input_tokens"] = req.cached
    if req.reasoning:
        record["reasoning_tokens"] = req.reasoning
    if req.batch:
        record["batch"] = True
    if req.intent:
        record["intent"] = req.intent
    return record | req.extra


def openai_usage(req: Request) -> dict[str, Any]:
    return {
        "prompt_tokens": req.prompt_tokens,
        "completion_tokens": req.output,
        "total_tokens": req.prompt_tokens + req.output,
        "prompt_tokens_details": {"cached_tokens": req.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": req.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_completion(rng: random.Random, req: Request) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + ident(rng, 29, BASE62),
        "object": "chat.completion",
        "created": int(epoch(req.ts)),
        "model": SNAPSHOTS[req.model],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": req.answer, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": openai_usage(req),
        "service_tier": "default",
        "system_fingerprint": "fp_" + ident(rng, 10),
    }


def openai_chat_record(rng: random.Random, req: Request) -> dict[str, Any]:
    return {
        "timestamp": iso(req.ts),
        "feature": req.feature,
        "user": req.user_id,
        "request": {"model": req.model, "messages": req.messages, "temperature": 0.2},
        "response": chat_completion(rng, req),
    }


def openai_batch(rng: random.Random, reqs: list[Request]) -> tuple[list[Any], list[Any]]:
    """Batch API input lines and output lines (in completion order, one failed)."""
    inputs, outputs = [], []
    for i, req in enumerate(reqs):
        custom_id = f"{req.feature}-{req.ts:%Y%m%d}-{i:04d}"
        body = {
            "model": req.model,
            "messages": req.messages,
            "max_tokens": 800,
            "metadata": {"feature": req.feature, "user_id": req.user_id},
        }
        inputs.append(
            {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
        )
        response: dict[str, Any] = {
            "status_code": 200,
            "request_id": ident(rng, 32),
            "body": chat_completion(rng, req),
        }
        if i == len(reqs) // 2:
            response |= {
                "status_code": 400,
                "body": {
                    "error": {
                        "message": "Invalid 'messages[1].content': string too long.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "string_above_max_length",
                    }
                },
            }
        outputs.append(
            {
                "id": "batch_req_" + ident(rng, 32),
                "custom_id": custom_id,
                "response": response,
                "error": None,
            }
        )
    rng.shuffle(outputs)
    return inputs, outputs


def responses_object(rng: random.Random, req: Request) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if req.reasoning:
        output.append({"id": "rs_" + ident(rng, 48), "type": "reasoning", "summary": []})
    output.append(
        {
            "id": "msg_" + ident(rng, 48),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "annotations": [], "logprobs": [], "text": req.answer}
            ],
        }
    )
    created = int(epoch(req.ts))
    return {
        "id": "resp_" + ident(rng, 48),
        "object": "response",
        "created_at": created,
        "status": "completed",
        "background": False,
        "completed_at": created + req.latency_ms // 1000,
        "error": None,
        "incomplete_details": None,
        "instructions": req.system,
        "max_output_tokens": None,
        "model": SNAPSHOTS[req.model],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": "medium" if req.reasoning else None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": req.prompt_tokens,
            "input_tokens_details": {"cached_tokens": req.cached},
            "output_tokens": req.output,
            "output_tokens_details": {"reasoning_tokens": req.reasoning},
            "total_tokens": req.prompt_tokens + req.output,
        },
        "user": req.user_id,
        "metadata": {"feature": req.feature, "user_id": req.user_id},
    }


def anthropic_message(rng: random.Random, req: Request) -> dict[str, Any]:
    return {
        "id": "msg_01" + ident(rng, 22, BASE62),
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": req.answer}],
        "model": SNAPSHOTS[req.model],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": req.uncached,
            "cache_creation_input_tokens": req.write_5m + req.write_1h,
            "cache_read_input_tokens": req.cached,
            "cache_creation": {
                "ephemeral_5m_input_tokens": req.write_5m,
                "ephemeral_1h_input_tokens": req.write_1h,
            },
            "output_tokens": req.output,
            "service_tier": "batch" if req.batch else "standard",
        },
    }


def anthropic_record(rng: random.Random, req: Request) -> dict[str, Any]:
    cache_control = {"type": "ephemeral"} | ({"ttl": "1h"} if req.write_1h else {})
    system = [{"type": "text", "text": req.system, "cache_control": cache_control}]
    request = {
        "model": req.model,
        "max_tokens": 1024,
        "system": system,
        "messages": req.turns,
        "metadata": {"user_id": req.user_id},
    }
    return {
        "timestamp": iso(req.ts),
        "feature": req.feature,
        "request": request,
        "response": anthropic_message(rng, req),
    }


def anthropic_batch(rng: random.Random, reqs: list[Request]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [
        {
            "custom_id": f"review-{req.ts:%Y%m%d}-{i:03d}",
            "result": {"type": "succeeded", "message": anthropic_message(rng, req)},
        }
        for i, req in enumerate(reqs)
    ]
    error = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens: 100000 > 64000, which is the maximum allowed number of output "
            "tokens for claude-sonnet-4-5-20250929",
        },
    }
    results.insert(
        len(results) // 2,
        {"custom_id": "review-20261105-099", "result": {"type": "errored", "error": error}},
    )
    return results
