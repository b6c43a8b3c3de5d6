"""The other ways instrumentations write a model call: each read back as the same messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.server.collector_helpers import Collector

from .otlp_json import JSON, post, request, span, value

pytestmark = pytest.mark.anyio

QUESTION, ANSWER = "What is 2+2?", "4."
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.conversation.id": "conv",
}


def _event(name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "timeUnixNano": "1796460072100000000",
        "name": name,
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
    }


def _structured_messages() -> dict[str, Any]:
    """gen_ai.input.messages as an OTLP array of maps rather than a JSON string."""
    parts = {
        "arrayValue": {
            "values": [
                {
                    "kvlistValue": {
                        "values": [
                            {"key": "type", "value": {"stringValue": "text"}},
                            {"key": "content", "value": {"stringValue": QUESTION}},
                        ]
                    }
                }
            ]
        }
    }
    message = {
        "kvlistValue": {
            "values": [
                {"key": "role", "value": {"stringValue": "user"}},
                {"key": "parts", "value": parts},
            ]
        }
    }
    return {"key": "gen_ai.input.messages", "value": {"arrayValue": {"values": [message]}}}


def _cases() -> dict[str, dict[str, Any]]:
    openllmetry = span(
        "00000000000000c1",
        "openai.chat",
        **{
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 9,
            "gen_ai.usage.completion_tokens": 2,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be exact.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": QUESTION,
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": ANSWER,
            "session.id": "conv",
        },
    )
    prompt_events = span("00000000000000c2", "chat", **CHAT)
    prompt_events["events"] = [
        _event(
            "gen_ai.content.prompt",
            **{"gen_ai.prompt": json.dumps([{"role": "user", "content": QUESTION}])},
        ),
        _event(
            "gen_ai.content.completion",
            **{"gen_ai.completion": json.dumps([{"role": "assistant", "content": ANSWER}])},
        ),
    ]
    message_events = span("00000000000000c3", "chat", **CHAT)
    message_events["events"] = [
        _event("gen_ai.system.message", content="Be exact."),
        _event("gen_ai.user.message", content=QUESTION),
        _event("gen_ai.choice", message=json.dumps({"role": "assistant", "content": ANSWER})),
    ]
    structured = span("00000000000000c4", "chat", **CHAT)
    structured["attributes"].append(_structured_messages())
    output = [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}]}]
    structured["attributes"].append(
        {"key": "gen_ai.output.messages", "value": value(json.dumps(output))}
    )
    details = span("00000000000000c5", "chat", **CHAT)
    details["events"] = [
        _event(
            "gen_ai.client.inference.operation.details",
            **{
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}]}]
                ),
            },
        )
    ]
    return {
        "openllmetry": openllmetry,
        "gen_ai.prompt events": prompt_events,
        "per-message events": message_events,
        "structured attribute": structured,
        "operation details event": details,
    }


@pytest.mark.parametrize("case", list(_cases()))
async def test_each_way_of_writing_messages(collector: Collector, case: str) -> None:
    """OpenLLMetry's flattened prompts, the older GenAI events, structured attributes and
    the inference details event: the question and the answer, once each."""
    body = json.dumps(request(_cases()[case])).encode()
    status, _, answer = await post(collector, body, JSON)
    assert status == 200 and json.loads(answer) == {}, answer
    events = (await collector.conversation("conv"))["events"]
    messages = [(e["sender"], e["content"]) for e in events if e["type"] == "message"]
    assert messages == [("end_user", QUESTION), ("agent", ANSWER)]
    (usage,) = (e for e in events if e["type"] == "token_usage")
    assert (usage["model"], usage["provider"]) == ("gpt-4o-mini", "openai")


async def test_an_embedding_and_a_failed_tool(collector: Collector) -> None:
    """An OpenInference EMBEDDING span counts embedding tokens; a TOOL span whose status is
    an error keeps the exception's message; a CHAIN above both is their parent."""
    chain = span(
        "00000000000000d1", "rag", **{"openinference.span.kind": "CHAIN", "session.id": "rag-1"}
    )
    embedding = span(
        "00000000000000d2",
        "embed",
        **{
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "llm.token_count.prompt": 30,
            "llm.token_count.total": 30,
        },
    )
    tool = span(
        "00000000000000d3", "search", **{"openinference.span.kind": "TOOL", "tool.name": "search"}
    )
    tool["status"] = {"code": 2}
    tool["events"] = [_event("exception", **{"exception.message": "index offline"})]
    for child in (embedding, tool):
        child["parentSpanId"] = "00000000000000d1"
    status, _, answer = await post(
        collector, json.dumps(request(chain, embedding, tool)).encode(), JSON
    )
    assert status == 200, answer
    events = (await collector.conversation("rag-1"))["events"]
    (usage,) = (e for e in events if e["type"] == "token_usage")
    assert (usage["embedding_tokens"], usage["prompt_tokens"], usage["total_tokens"]) == (30, 0, 30)
    assert usage["parent_id"] == "00000000000000d1"
    actions = {e["action_name"]: e for e in events if e["type"] == "action"}
    assert actions["search"]["error_msg"] == "index offline"
    assert actions["search"]["parent_id"] == "00000000000000d1"
    assert actions["rag"]["parent_id"] is None


async def test_evaluation_results_become_scores_of_the_answer(collector: Collector) -> None:
    """gen_ai.evaluation.result events on a model call: a score each, of the call's answer;
    a label where there is no number; one with neither is left out."""
    chat = span("00000000000000e1", "chat", **CHAT)
    chat["attributes"].append(
        {
            "key": "gen_ai.output.messages",
            "value": value(json.dumps([{"role": "assistant", "content": ANSWER}])),
        }
    )
    relevance = {
        "gen_ai.evaluation.name": "relevance",
        "gen_ai.evaluation.score.value": 0.75,
        "gen_ai.evaluation.explanation": "on topic",
    }
    chat["events"] = [
        _event("gen_ai.evaluation.result", **relevance),
        _event(
            "gen_ai.evaluation.result",
            **{"gen_ai.evaluation.name": "tone", "gen_ai.evaluation.score.label": "polite"},
        ),
        _event("gen_ai.evaluation.result", **{"gen_ai.evaluation.name": "empty"}),
    ]
    status, _, answer = await post(collector, json.dumps(request(chat)).encode(), JSON)
    assert status == 200 and json.loads(answer) == {}, answer
    events = (await collector.conversation("conv"))["events"]
    (reply,) = (e for e in events if e["type"] == "message")
    scores = {e["name"]: e for e in events if e["type"] == "score"}
    assert set(scores) == {"relevance", "tone"}
    assert (scores["relevance"]["value"], scores["relevance"]["comment"]) == (0.75, "on topic")
    assert scores["tone"]["value"] == "polite"
    assert all(s["message_id"] == reply["id"] for s in scores.values())
    status, metrics = await collector.call("GET", "/v1/metrics")
    assert status == 200, metrics
    assert {s["name"] for s in metrics["scores"]} == {"relevance", "tone"}
