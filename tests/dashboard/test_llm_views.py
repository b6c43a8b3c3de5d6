"""Models, cost, scores and the steps of a turn, in headless Chromium against a real
collector (the conversation `special-llm` of the fixtures)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from tests.dashboard.conftest import Served
from tests.dashboard.test_dashboard import _metrics, _shot


def test_overview_shows_cost_models_and_scores(page: Any, served: Served) -> None:
    """The cost tile and the model table say what /v1/metrics says; unpriced is never $0."""
    cost = _metrics(served, "A")["cost"]
    assert cost["usd"] > 0 and cost["unpriced_calls"] >= 1
    page.wait_for_selector("#model-table")
    tile = page.locator('[data-metric="cost"]')
    assert tile.locator(".tile-value").text_content().startswith("$")
    assert tile.locator(".tile-note").text_content() == f"{cost['unpriced_calls']:,} calls unpriced"
    gpt = page.locator('#model-table tr[data-model="gpt-4o-mini"]')
    assert gpt.locator("td").nth(1).text_content() == "2"
    assert gpt.locator("td").nth(3).text_content().startswith("$")
    house = page.locator('#model-table tr[data-model="house-model"]')
    assert house.locator("td").nth(3).text_content() == "unpriced"
    assert "llm-customer" in page.text_content("#cost-customers")
    scores = page.locator("#scores [data-score]")
    assert sorted(scores.evaluate_all("ns => ns.map(n => n.dataset.score)")) == [
        "helpfulness",
        "resolved",
    ]
    assert "yes" in page.text_content('#scores [data-score="resolved"]')


def test_transcript_shows_each_turns_steps_as_a_tree(page: Any, served: Served) -> None:
    """Steps between two messages are one tree: children under their parent, with duration,
    tokens and cost (or "unpriced"); scores and the conversation's cost are shown."""
    cid = served.special["llm"]
    page.goto(f"{served.collector.url}/#/conversation/{urllib.parse.quote(cid)}")
    page.wait_for_selector("#chat .steps")
    trees = page.locator("#chat .steps")
    assert trees.count() == 2
    first = trees.nth(0).locator(".step")
    rows = first.evaluate_all(
        "ns => ns.map(n => [n.querySelector('.step-name').textContent, +n.dataset.depth])"
    )
    assert rows == [
        ["⚙answer", 0],
        ["◆LLM · gpt-4o-mini", 1],
        ["⚠kb_search", 1],
        ["◆LLM · house-model", 2],
    ]
    infos = first.locator(".step-info").all_text_contents()
    assert infos[1].startswith("1.0 s · 900 → 40 tokens · $")
    assert infos[3].endswith("unpriced")
    assert "failed" in (first.nth(2).get_attribute("class") or "")
    order = page.eval_on_selector_all(
        "#chat > [data-event]", "nodes => nodes.map(n => n.dataset.event)"
    )
    assert order == ["conversation", "message", "steps", "message", "message", "steps",
                     "message", "score", "score"]  # fmt: skip
    detail = served.collector.conversation(cid)["conversation"]
    assert detail["cost"]["unpriced_calls"] == 1
    assert "1 unpriced" in page.text_content("#attributes")
    page.wait_for_load_state("networkidle")
    _shot(page, "steps.png")


def test_list_shows_cost_and_filters_by_score(page: Any, served: Served) -> None:
    """The list's Cost column and its score filter."""
    page.goto(f"{served.collector.url}/#/conversations?score=helpfulness&score_min=0.5")
    rows = page.locator("#conversation-table tbody tr")
    rows.first.wait_for()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.cid)") == [served.special["llm"]]
    assert rows.first.locator("[data-cost]").text_content().startswith("$")
