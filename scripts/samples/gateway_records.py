"""Sample records of one request as gateways and tracers log it: LiteLLM, Langfuse, OTel."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import orjson
from sample_records import BASE62, chat_completion, ident, uuid
from sample_traffic import SNAPSHOTS, Request, cost_usd, epoch, iso, list_price, provider


def litellm_payload(rng: random.Random, req: Request, template: dict[str, Any]) -> dict[str, Any]:
    """A StandardLoggingPayload shaped like LiteLLM's own example, with this request's values."""
    record = orjson.loads(orjson.dumps(template))
    start = epoch(req.ts)
    cost, cache_hit = req.cost, req.extra.get("litellm_cache_hit")
    response = chat_completion(rng, req) | {"id": f"chatcmpl-{uuid(rng)}"}
    prices = list_price(req.model)
    record |= {
        "id": response["id"],
        "trace_id": uuid(rng),
        "cache_hit": cache_hit,
        "stream": False,
        "custom_llm_provider": provider(req.model),
        "saved_cache_cost": cost if cache_hit else 0.0,
        "startTime": start,
        "endTime": start + req.latency_ms / 1000,
        "completionStartTime": start + req.latency_ms / 1000,
        "response_time": req.latency_ms / 1000,
        "model": req.model,
        "response_cost": 0.0 if cache_hit else cost,
        "total_tokens": req.prompt_tokens + req.output,
        "prompt_tokens": req.prompt_tokens,
        "completion_tokens": req.output,
        "request_tags": ["prod", f"feature:{req.feature}"],
        "end_user": req.user_id,
        "model_group": req.model,
        "messages": req.messages,
        "response": response,
        "cache_key": ident(rng, 64) if cache_hit else None,
    }
    record["metadata"] |= {
        "user_api_key_hash": ident(rng, 64),
        "user_api_key_alias": "prod-backend",
        "user_api_key_user_id": req.user_id,
        "requester_metadata": {"feature": req.feature},
    }
    record["hidden_params"] |= {
        "response_cost": record["response_cost"],
        "litellm_model_name": req.model,
    }
    value = record["model_map_information"]["model_map_value"]
    value |= {
        "key": req.model,
        "input_cost_per_token": prices[0] / 1e6,
        "output_cost_per_token": prices[1] / 1e6,
        "cache_read_input_token_cost": prices[2] / 1e6,
        "litellm_provider": provider(req.model),
    }
    record["model_map_information"]["model_map_key"] = req.model
    return record


def spend_log(rng: random.Random, req: Request) -> dict[str, Any]:
    """A LiteLLM_SpendLogs row as the proxy's /spend/logs endpoint returns it."""
    end = req.ts + timedelta(milliseconds=req.latency_ms)
    failed = req.extra.get("status") == "failure"
    stored = rng.random() < 0.5  # the proxy stores messages only when store_prompts_in_spend_logs
    return {
        "request_id": f"chatcmpl-{uuid(rng)}",
        "call_type": "acompletion",
        "api_key": ident(rng, 64),
        "spend": 0.0 if failed else req.cost,
        "total_tokens": 0 if failed else req.prompt_tokens + req.output,
        "prompt_tokens": 0 if failed else req.prompt_tokens,
        "completion_tokens": 0 if failed else req.output,
        "startTime": req.ts.isoformat() + "Z",
        "endTime": end.isoformat() + "Z",
        "completionStartTime": end.isoformat() + "Z",
        "model": req.model,
        "model_id": ident(rng, 64),
        "model_group": req.model,
        "custom_llm_provider": provider(req.model),
        "api_base": "",
        "user": req.user_id,
        "metadata": {
            "user_api_key_alias": "support-bot",
            "user_api_key_team_id": "team-cx",
            "requester_metadata": {"feature": req.feature},
            "additional_usage_values": {"prompt_tokens_details": {"cached_tokens": req.cached}},
        },
        "cache_hit": "False",
        "cache_key": "Cache OFF",
        "request_tags": [f"feature:{req.feature}"],
        "team_id": "team-cx",
        "end_user": req.user_id,
        "requester_ip_address": "",
        "messages": req.messages if stored else {},
        "response": {"content": req.answer} if stored else {},
        "session_id": uuid(rng),
        "status": "failure" if failed else "success",
        "proxy_server_request": {},
    }


def langfuse_generation(rng: random.Random, req: Request) -> dict[str, Any]:
    """A GENERATION observation as Langfuse's public API returns it."""
    end = req.ts + timedelta(milliseconds=req.latency_ms)
    if provider(req.model) == "anthropic":
        usage = {
            "input": req.uncached,
            "cache_read_input_tokens": req.cached,
            "cache_creation_input_tokens": req.write_5m + req.write_1h,
        }
    else:  # the Langfuse SDK subtracts the cached tokens from "input"
        usage = {"input": req.uncached, "input_cached_tokens": req.cached}
    usage |= {"output": req.output, "total": req.prompt_tokens + req.output}
    output_cost = cost_usd(req.model, (0, 0, 0, 0, req.output))
    costs = {"input": round(req.cost - output_cost, 10), "output": output_cost, "total": req.cost}
    return {
        "id": uuid(rng),
        "traceId": ident(rng, 32),
        "type": "GENERATION",
        "name": f"{req.feature}-answer",
        "startTime": iso(req.ts),
        "endTime": iso(end),
        "completionStartTime": iso(req.ts + timedelta(milliseconds=req.latency_ms // 3)),
        "model": SNAPSHOTS[req.model],
        "modelParameters": {"temperature": "0.2", "max_tokens": "1024"},
        "input": req.messages,
        "output": {"role": "assistant", "content": req.answer},
        "usageDetails": usage,
        "costDetails": costs,
        "calculatedInputCost": costs["input"],
        "calculatedOutputCost": output_cost,
        "calculatedTotalCost": req.cost,
        "promptTokens": req.prompt_tokens,
        "completionTokens": req.output,
        "totalTokens": req.prompt_tokens + req.output,
        "unit": "TOKENS",
        "metadata": {"feature": req.feature, "user_id": req.user_id},
        "level": "DEFAULT",
        "statusMessage": None,
        "parentObservationId": None,
        "version": "2026.11.1",
        "promptName": f"{req.feature}-system",
        "promptVersion": 3,
        "environment": "production",
        "latency": req.latency_ms / 1000,
    }


def otel_span(rng: random.Random, req: Request, legacy: bool) -> dict[str, Any]:
    """An OTel GenAI client span as JSON; `legacy` uses the pre-1.27 / OpenLLMetry names."""
    start = int(epoch(req.ts) * 1e9)
    anthropic = provider(req.model) == "anthropic"
    prefix, size = ("msg_01", 22) if anthropic else ("chatcmpl-", 29)
    response_id = prefix + ident(rng, size, BASE62)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider(req.model),
        "gen_ai.request.model": req.model,
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.model": SNAPSHOTS[req.model],
        "gen_ai.response.id": response_id,
        "gen_ai.response.finish_reasons": ["end_turn" if anthropic else "stop"],
        "app.feature": req.feature,
        "enduser.id": req.user_id,
    }
    if legacy:
        attributes |= {
            "gen_ai.usage.prompt_tokens": req.prompt_tokens,
            "gen_ai.usage.completion_tokens": req.output,
            "llm.usage.total_tokens": req.prompt_tokens + req.output,
            "llm.request.type": "chat",
        }
    else:
        attributes |= {
            "gen_ai.usage.input_tokens": req.prompt_tokens,
            "gen_ai.usage.output_tokens": req.output,
        }
        if req.cached:
            attributes["gen_ai.usage.cache_read.input_tokens"] = req.cached
    return {
        "name": f"chat {req.model}",
        "traceId": ident(rng, 32),
        "spanId": ident(rng, 16),
        "parentSpanId": ident(rng, 16),
        "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + req.latency_ms * 1_000_000),
        "attributes": attributes,
        "status": {"code": "STATUS_CODE_UNSET"},
        "resource": {"attributes": {"service.name": f"lumen-{req.feature}"}},
    }
