"""An LLM agent's turn, end to end: the SDK's model calls, steps and scores in a real
`agentsight serve`, read back priced and nested; and the SDK against a collector of the
release before wire schema 2."""

from __future__ import annotations

import io
import logging
import subprocess
import tarfile
from pathlib import Path

import anyio
import pytest

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parents[2]
#: The last commit whose collector spoke wire schema 1 only.
SCHEMA_1_RELEASE = "340152f"


async def _turn(tracker: ConversationTracker) -> None:
    async with tracker.conversation("turn-1", customer_id="alice"):
        await tracker.track_human_message("Where is my order 42?")
        async with tracker.action("answer"):
            await tracker.track_token_usage(
                1200, 80, model="gpt-4o-mini", provider="openai", duration_ms=420.0
            )
            async with tracker.action("order_lookup") as run:
                run.response = {"status": "shipped"}
            await tracker.track_token_usage(1500, 60, model="gpt-4o-mini", provider="openai")
        await tracker.track_agent_message("It shipped yesterday.")
        await tracker.track_score("resolved", True)


async def test_a_turn_is_stored_priced_and_nested(collector: CollectorProcess) -> None:
    """The conversation's cost is what genai-prices says of its calls, and its steps form
    the tree the blocks made."""
    from genai_prices import Usage, calc_price

    async with ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, flush_interval=0.05
    ) as tracker:
        await _turn(tracker)
        report = await tracker.send_tracked_data()
    assert report.complete and tracker.stats().rejected == 0
    detail = await anyio.to_thread.run_sync(collector.conversation, "turn-1")
    expected = sum(
        float(calc_price(Usage(input_tokens=i, output_tokens=o), "gpt-4o-mini").total_price)
        for i, o in ((1200, 80), (1500, 60))
    )
    cost = detail["conversation"]["cost"]
    assert (cost["priced_calls"], cost["unpriced_calls"]) == (2, 0)
    assert cost["usd"] == pytest.approx(expected, abs=1e-9)
    events = {
        e.get("action_name") or e.get("model") or e["type"]: e
        for e in detail["events"]
        if e["type"] in ("action", "score") or e["type"] == "token_usage"
    }
    answer = events["answer"]["step_id"]
    assert events["order_lookup"]["parent_id"] == answer
    assert events["gpt-4o-mini"]["parent_id"] == answer
    assert events["score"]["value"] is True


def _old_collector(tmp_path: Path) -> CollectorProcess:
    """The collector of SCHEMA_1_RELEASE (from this repository's history), running."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", SCHEMA_1_RELEASE, "agentsight"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path / "old", filter="data")
    return CollectorProcess(tmp_path / "old.db", cwd=tmp_path / "old")


async def test_an_older_collector_keeps_everything_it_knows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A collector of wire schema 1 refuses a version 2 batch; the SDK resends it as
    version 1, once warned: messages, actions and tokens are stored, the score is
    rejected (counted), nothing else is lost."""
    old = await anyio.to_thread.run_sync(_old_collector, tmp_path)
    try:
        caplog.set_level(logging.WARNING, "agentsight")
        async with ConversationTracker(
            api_key=old.keys["A"], endpoint=old.url, flush_interval=0.05
        ) as tracker:
            await _turn(tracker)
            report = await tracker.send_tracked_data()
        stats = tracker.stats()
        assert report.complete
        assert (stats.accepted, stats.rejected, stats.dropped) == (7, 1, 0)
        assert "takes wire schema 1 only" in caplog.text
        detail = await anyio.to_thread.run_sync(old.conversation, "turn-1")
        kinds = [e["type"] for e in detail["events"]]
        assert kinds.count("message") == 2 and kinds.count("token_usage") == 2
        assert detail["conversation"]["token_usage"]["prompt_tokens"] == 2700
    finally:
        assert old.stop() == 0, "".join(old.log)
