"""Model calls priced at ingest, costs and scores in the API and /v1/metrics (SQLite and
PostgreSQL), with figures computed by hand."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from agentsight.server import ServerOptions
from tests.server.collector_helpers import (
    Collector,
    conversation,
    message,
    run_collector,
    score,
    tokens,
    ts,
)
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio

PRICES = """
[[price]]
model = "house-llm"
input_mtok = 2.0
output_mtok = 10.0
cached_input_mtok = 0.5

[[price]]
model = "gpt-4o"
provider = "negotiated"
input_mtok = 1.0
output_mtok = 1.0
"""


@pytest.fixture
async def priced(database: Database, tmp_path: Path) -> Any:
    """A collector with the override file above."""
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICES)
    async with run_collector(database("priced"), ServerOptions(prices=str(prices))) as running:
        yield running


def _library_usd(model: str, provider: str, prompt: int, completion: int) -> float:
    """What genai-prices itself says the call costs (its own arithmetic, in USD)."""
    usage = Usage(input_tokens=prompt, output_tokens=completion)
    total = calc_price(usage, model_ref=model, provider_id=provider).total_price
    return float(Decimal(total).quantize(Decimal("1e-9")))


async def _seed(collector: Collector) -> None:
    await collector.send(
        conversation("c1", 0, 0.0, customer_id="alice"),
        message("c1", 1, 1.0, "hi"),
        # house-llm: 1,000 prompt of which 400 cached, 200 completion:
        # 600 * 2 + 400 * 0.5 + 200 * 10 = 3,400 USD per million = 0.0034 USD
        tokens("c1", 2, 2.0, 1000, 200, model="house-llm", cached_input_tokens=400),
        tokens("c1", 3, 3.0, 1000, 100, model="gpt-4o", provider="openai"),
        tokens("c1", 4, 4.0, 50, 5, model="no-such-model-anywhere"),
        conversation("c2", 0, 10.0, customer_id="bob"),
        # negotiated gpt-4o: (10,000 + 1,000) * 1.0 per million = 0.011 USD
        tokens("c2", 1, 11.0, 10_000, 1000, model="gpt-4o", provider="negotiated"),
        conversation("c3", 0, 20.0, customer_id="carol"),
        tokens("c3", 1, 21.0, 10, 10),  # no model: unpriced
        score("c1", 5, 5.0, "helpfulness", 0.5),
        score("c2", 2, 12.0, "helpfulness", 1),
        score("c3", 2, 22.0, "helpfulness", 1),
        score("c1", 6, 6.0, "resolved", True),
        score("c2", 3, 13.0, "resolved", False),
        score("c3", 3, 23.0, "resolved", True),
        score("c3", 4, 24.0, "topic", "billing", comment="about an invoice"),
    )


async def test_calls_are_priced_at_ingest(priced: Collector) -> None:
    """Each call's cost adds up per conversation; an unknown or missing model is unpriced,
    and a conversation whose calls are all unpriced costs null, not zero."""
    await _seed(priced)
    gpt_4o = _library_usd("gpt-4o", "openai", 1000, 100)
    assert gpt_4o > 0
    c1 = (await priced.conversation("c1"))["conversation"]["cost"]
    assert c1["priced_calls"] == 2 and c1["unpriced_calls"] == 1
    assert c1["usd"] == pytest.approx(0.0034 + gpt_4o, abs=1e-9)
    c2 = (await priced.conversation("c2"))["conversation"]["cost"]
    assert c2 == {"usd": 0.011, "priced_calls": 1, "unpriced_calls": 0}
    c3 = (await priced.conversation("c3"))["conversation"]["cost"]
    assert c3 == {"usd": None, "priced_calls": 0, "unpriced_calls": 1}
    listed = {c["conversation_id"]: c["cost"] for c in (await priced.listing())["conversations"]}
    assert listed["c2"] == c2 and listed["c3"] == c3
    usage = [e for e in (await priced.conversation("c1"))["events"] if e["type"] == "token_usage"]
    assert (usage[0]["model"], usage[0]["cached_input_tokens"]) == ("house-llm", 400)


async def test_resent_calls_are_not_priced_twice(priced: Collector) -> None:
    """A resent batch (the same ids) adds nothing to the cost."""
    call = tokens("c1", 1, 1.0, 1000, 200, model="house-llm")
    await priced.send(conversation("c1", 0, 0.0), call)
    answer = await priced.send(call)
    assert answer["duplicates"] == 1
    cost = (await priced.conversation("c1"))["conversation"]["cost"]
    assert cost == {"usd": 0.004, "priced_calls": 1, "unpriced_calls": 0}


async def test_metrics_cost(priced: Collector) -> None:
    """/v1/metrics: the total, per conversation, by model, by day and by customer."""
    await _seed(priced)
    gpt_4o = _library_usd("gpt-4o", "openai", 1000, 100)
    status, metrics = await priced.call("GET", "/v1/metrics")
    assert status == 200, metrics
    cost = metrics["cost"]
    total = 0.0034 + gpt_4o + 0.011
    assert cost["usd"] == pytest.approx(total, abs=1e-9)
    assert (cost["priced_calls"], cost["unpriced_calls"]) == (3, 2)
    assert cost["per_conversation_usd"] == pytest.approx(total / 3, abs=1e-9)
    models = {(m["model"], m["provider"]): m for m in cost["by_model"]}
    assert models[("house-llm", None)]["usd"] == 0.0034
    assert models[("gpt-4o", "negotiated")]["prompt_tokens"] == 10_000
    assert models[("no-such-model-anywhere", None)] | {} == {
        "model": "no-such-model-anywhere",
        "provider": None,
        "calls": 1,
        "usd": None,
        "priced_calls": 0,
        "unpriced_calls": 1,
        "prompt_tokens": 50,
        "completion_tokens": 5,
        "total_tokens": 55,
        "embedding_tokens": 0,
    }
    assert models[(None, None)]["unpriced_calls"] == 1
    [day] = cost["daily"]
    assert day["date"] == ts(0)[:10] and day["usd"] == pytest.approx(total, abs=1e-9)
    assert [c["customer_id"] for c in cost["top_customers"]] == ["bob", "alice"]
    # carol's calls were all unpriced: not a top customer by cost
    filtered = (await priced.call("GET", "/v1/metrics", params={"customer_id": "bob"}))[1]
    assert filtered["cost"]["usd"] == 0.011
    assert [m["model"] for m in filtered["cost"]["by_model"]] == ["gpt-4o"]


async def test_customers_have_their_cost(priced: Collector) -> None:
    """/v1/customers: each customer's cost as a conversation's, and sort=cost most first."""
    await _seed(priced)
    status, answer = await priced.call("GET", "/v1/customers", params={"sort": "cost"})
    assert status == 200, answer
    rows = {c["customer_id"]: c["cost"] for c in answer["customers"]}
    assert [c["customer_id"] for c in answer["customers"]] == ["bob", "alice", "carol"]
    assert rows["bob"] == {"usd": 0.011, "priced_calls": 1, "unpriced_calls": 0}
    gpt_4o = _library_usd("gpt-4o", "openai", 1000, 100)
    assert rows["alice"]["usd"] == pytest.approx(0.0034 + gpt_4o, abs=1e-9)
    assert (rows["alice"]["priced_calls"], rows["alice"]["unpriced_calls"]) == (2, 1)
    # carol's one call has no model: unknown, not free
    assert rows["carol"] == {"usd": None, "priced_calls": 0, "unpriced_calls": 1}


async def test_metrics_scores(priced: Collector) -> None:
    """Scores: the average of numbers and yes/no, the distribution, by day, filtered."""
    await _seed(priced)
    scores = {s["name"]: s for s in (await priced.call("GET", "/v1/metrics"))[1]["scores"]}
    helpful = scores["helpfulness"]
    assert (helpful["count"], helpful["avg"]) == (3, pytest.approx(2.5 / 3))
    assert helpful["distribution"] == [{"value": 1.0, "count": 2}, {"value": 0.5, "count": 1}]
    resolved = scores["resolved"]
    assert resolved["avg"] == pytest.approx(2 / 3)
    assert resolved["distribution"] == [
        {"value": True, "count": 2},
        {"value": False, "count": 1},
    ]
    topic = scores["topic"]
    assert (topic["numeric"], topic["avg"]) == (0, None)
    assert topic["distribution"] == [{"value": "billing", "count": 1}]
    assert helpful["daily"] == [{"date": ts(0)[:10], "count": 3, "avg": pytest.approx(2.5 / 3)}]
    only_alice = (await priced.call("GET", "/v1/metrics", params={"customer_id": "alice"}))[1]
    assert {s["name"]: s["count"] for s in only_alice["scores"]} == {
        "helpfulness": 1,
        "resolved": 1,
    }


@pytest.mark.parametrize("first", [-0.0, 0.0])
async def test_a_zero_score_is_one_value_whatever_its_sign(
    collector: Collector, first: float
) -> None:
    """-0.0 and 0.0 are one value of the distribution, shown as 0.0, whichever came first,
    from the rollups and directly."""
    await collector.send(
        conversation("z1", 0, 0.0, source="web"),
        score("z1", 1, 1.0, "csat", first),
        score("z1", 2, 2.0, "csat", -first),
        score("z1", 3, 3.0, "csat", -2),
    )
    for params in ({}, {"source": "web"}):  # the rollups; an attribute filter: directly
        status, figures = await collector.call("GET", "/v1/metrics", params=params)
        assert status == 200, figures
        [csat] = figures["scores"]
        assert csat["distribution"] == [{"value": 0.0, "count": 2}, {"value": -2.0, "count": 1}]
        assert str(csat["distribution"][0]["value"]) == "0.0"


async def test_scores_filter_the_list(priced: Collector) -> None:
    """score= with score_min, score_max or score_value selects conversations."""
    await _seed(priced)

    async def ids(**params: Any) -> set[str]:
        return {c["conversation_id"] for c in (await priced.listing(**params))["conversations"]}

    assert await ids(score="helpfulness") == {"c1", "c2", "c3"}
    assert await ids(score="helpfulness", score_min="0.75") == {"c2", "c3"}
    assert await ids(score="helpfulness", score_max="0.5") == {"c1"}
    assert await ids(score="resolved", score_value="false") == {"c2"}
    assert await ids(score="topic", score_value="billing") == {"c3"}
    assert await ids(score="nothing") == set()
    status, answer = await priced.call("GET", "/v1/conversations", params={"score_min": "1"})
    assert status == 400 and answer["error"].startswith("score:")
    status, answer = await priced.call(
        "GET", "/v1/conversations", params={"score": "x", "score_min": "nan"}
    )
    assert (status, answer["error"]) == (400, "score_min: expected a finite number such as 0.5")


async def test_people_and_jobs_post_scores(collector: Collector) -> None:
    """POST .../scores stores a score (source api by default, or human) that the transcript,
    the list filter and the metrics show; bad values are named; unknown conversations 404."""
    await collector.send(conversation("c1", 0, 0.0), message("c1", 1, 1.0, "hello"))
    detail = await collector.conversation("c1")
    message_id = detail["events"][1]["id"]
    status, answer = await collector.call(
        "POST",
        "/v1/conversations/c1/scores",
        json={"name": "tone", "value": 4, "message_id": message_id, "source": "human"},
    )
    assert status == 201, answer
    assert answer["score"]["source"] == "human" and answer["score"]["message_id"] == message_id
    status, answer = await collector.call(
        "POST", "/v1/conversations/c1/scores", json={"name": "tone", "value": 2}
    )
    assert (status, answer["score"]["source"]) == (201, "api")
    events = (await collector.conversation("c1"))["events"]
    assert [(e["type"], e.get("value"), e.get("source")) for e in events[2:]] == [
        ("score", 4, "human"),
        ("score", 2, "api"),
    ]
    listed = await collector.listing(score="tone", score_min="3")
    assert [c["conversation_id"] for c in listed["conversations"]] == ["c1"]
    [tone] = (await collector.call("GET", "/v1/metrics"))[1]["scores"]
    assert (tone["count"], tone["avg"]) == (2, 3.0)
    for body, error in [
        ({"name": "tone", "value": None}, "value: expected a finite number"),
        ({"name": "", "value": 1}, "name: expected 1 to 256 characters"),
        ({"name": "tone", "value": [1]}, "value: expected a finite number"),
        ({"name": "tone", "value": 1, "source": "sdk"}, "source: expected 'api' or 'human'"),
        ({"name": "tone", "value": 1, "stars": 5}, "stars: unknown field"),
    ]:
        status, answer = await collector.call("POST", "/v1/conversations/c1/scores", json=body)
        assert status == 400 and answer["error"].startswith(error), (body, answer)
    status, answer = await collector.call(
        "POST", "/v1/conversations/nope/scores", json={"name": "tone", "value": 1}
    )
    assert status == 404, answer


def test_a_bad_prices_file_stops_the_start(tmp_path: Path) -> None:
    """agentsight serve --prices names the entry and the field that are wrong."""
    import subprocess
    import sys

    command = str(Path(sys.executable).parent / "agentsight")
    bad = tmp_path / "prices.toml"
    bad.write_text('[[price]]\nmodel = "m"\ninput_mtok = -1\noutput_mtok = 1\n')
    run = subprocess.run(
        [command, "serve", "--db", str(tmp_path / "x.db"),
         "--prices", str(bad), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0
    assert "entry 1: input_mtok: expected a number >= 0" in run.stderr


async def test_a_later_score_does_not_stretch_the_conversation(collector: Collector) -> None:
    """A score given long after the conversation (a reviewer, an evaluation job) leaves its
    duration, last activity, its customer's last seen and the average duration as they were;
    a batch of only scores for a conversation not stored yet still makes its row."""
    await collector.send(
        conversation("c1", 0, 0.0, customer_id="alice"),
        message("c1", 1, 1.0, "hi"),
        message("c1", 2, 300.0, "bye", sender="agent"),
    )

    async def seen() -> tuple[Any, ...]:
        [row] = (await collector.listing(customer_id="alice"))["conversations"]
        detail = (await collector.conversation("c1"))["conversation"]
        metrics = (await collector.call("GET", "/v1/metrics"))[1]
        [customer] = (await collector.call("GET", "/v1/customers"))[1]["customers"]
        duration = metrics["conversation_duration_ms"]["avg"]
        return row["duration_ms"], detail["ended_at"], duration, customer["last_seen"]

    before = await seen()
    assert before[0] == 300_000 and before[2] == 300_000
    status, answer = await collector.call(
        "POST", "/v1/conversations/c1/scores", json={"name": "quality", "value": 0.9}
    )
    assert status == 201, answer
    await collector.send(score("c1", 3, 86_400.0, "resolved", True))
    assert await seen() == before
    # Dated events still widen it, in a batch with a score or not.
    await collector.send(message("c1", 4, 400.0, "one more"), score("c1", 5, 90_000.0, "x", 1))
    assert (await seen())[0] == 400_000
    await collector.send(score("c2", 0, 50.0, "quality", 0.1))
    detail = (await collector.conversation("c2"))["conversation"]
    assert detail["started_at"] == detail["ended_at"] == ts(50.0)


async def test_the_top_customers_and_unique_users_of_many_customers(priced: Collector) -> None:
    """Thirty customers whose costs tie often: the ten most costly (ties by customer id),
    with their priced conversations and calls, unique users and returning customers, as
    computed here.  (SQLite cuts the customers pass in two halves by customer: the
    ranking joins both.)"""
    rng = random.Random(7)
    spent: dict[str, list[int]] = {}  # customer: [nanos, priced calls, unpriced, conversations]
    days: dict[str, set[int]] = {}
    events = []
    for n in range(90):
        customer = f"k{rng.randrange(30):02d}"
        day = rng.randrange(3)
        at = day * 86_400.0 + n
        days.setdefault(customer, set()).add(day)
        cid = f"t{n}"
        events.append(conversation(cid, 0, at, customer_id=customer))
        # negotiated gpt-4o costs 1.0 USD per million tokens: 1,000 to 3,000 nanos
        prompt = rng.choice([0, 1000, 2000])
        calls = [tokens(cid, 1, at + 1, prompt, 1000, model="gpt-4o", provider="negotiated")]
        unpriced = rng.randrange(2)
        calls += [tokens(cid, 2, at + 2, 10, 10)] * unpriced  # no model: unpriced
        if rng.random() < 0.3:
            calls = calls[1:]  # only the unpriced call, if any: no cost
        else:
            sums = spent.setdefault(customer, [0, 0, 0, 0])
            for i, add in enumerate(((prompt + 1000) * 1000, 1, unpriced, 1)):
                sums[i] += add
        events += calls
    await priced.send(*events)
    status, metrics = await priced.call("GET", "/v1/metrics")
    assert status == 200, metrics
    ranked = sorted(spent.items(), key=lambda item: (-item[1][0], item[0]))[:10]
    assert [
        (c["customer_id"], c["usd"], c["priced_calls"], c["unpriced_calls"], c["conversations"])
        for c in metrics["cost"]["top_customers"]
    ] == [(k, nanos / 1e9, calls, unpriced, count) for k, (nanos, calls, unpriced, count) in ranked]
    ties = [nanos for _, (nanos, *_) in ranked]
    assert len(set(ties)) < len(ties)  # the data ranks ties by customer id
    returning = sum(1 for found in days.values() if len(found) > 1)
    assert metrics["totals"]["unique_users"] == len(days)
    assert metrics["customers"] == {
        "customers": len(days),
        "returning": returning,
        "returning_rate": round(returning / len(days), 6),
    }
