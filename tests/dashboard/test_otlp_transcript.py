"""A conversation that came in as OpenTelemetry spans (``examples/otlp_sdk.py``), in headless
Chromium: its messages, and its steps as the tree the spans made."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.dashboard.conftest import ROOT, Served
from tests.dashboard.test_dashboard import _shot


def test_an_otlp_turn_shows_as_messages_and_a_step_tree(page: Any, served: Served) -> None:
    """The agent span is the root; the tool and the model call are its children."""
    collector = served.collector
    env = {
        **os.environ,
        "AGENTSIGHT_API_KEY": collector.ingest_key("A"),
        "AGENTSIGHT_API_ENDPOINT": collector.url,
    }
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "otlp_sdk.py")],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    page.goto(f"{collector.url}/#/conversation/otlp-chat-1")
    page.wait_for_selector("#chat .steps")
    rows = page.locator("#chat .steps .step").evaluate_all(
        "ns => ns.map(n => [n.querySelector('.step-name').textContent, +n.dataset.depth])"
    )
    assert rows == [
        ["⚙shop-assistant", 0],
        ["⚙order_lookup", 1],
        ["◆LLM · gpt-4o-mini-2024-07-18", 1],
    ]
    order = page.eval_on_selector_all(
        "#chat > [data-event]", "nodes => nodes.map(n => n.dataset.event)"
    )
    assert order == ["conversation", "message", "steps", "message"]
    assert "Where is my order 1234?" in page.text_content("#chat")
    assert "420 → 35 tokens · $" in page.text_content("#chat .steps")
    page.wait_for_load_state("networkidle")
    _shot(page, "otlp-steps.png")
