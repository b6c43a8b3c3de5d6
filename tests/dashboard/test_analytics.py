"""The dashboard's analytics in headless Chromium: periods and comparison, breakdowns,
customers, the conversation list's columns, sorting and live updates, and phones.

Desktop tests run at 1280x800 (the ``page`` fixture); the phone tests at 420x860.
Screenshots of both sizes go to docs/screenshots with
AGENTSIGHT_UPDATE_SCREENSHOTS=1 (see test_dashboard.py).
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.conftest import Served, signed_in
from tests.dashboard.test_dashboard import _shot, _tile

DAY = 86_400


def _api(served: Served, path: str, project: str = "A", **params: Any) -> dict[str, Any]:
    status, answer = served.collector.request("GET", path, project, **params)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _change(now: float, before: float) -> str:
    """The tile's change as the page writes it (app.js ``change``)."""
    if before == 0:
        return "= 0" if now == 0 else "▲ new"
    ratio = (now - before) / before * 100
    digits = 1 if ratio != 0 and abs(ratio) < 10 else 0
    arrow = "▲" if ratio > 0 else "▼" if ratio < 0 else "="
    return f"{arrow} {abs(ratio):.{digits}f}%"


def _tone(now: float, before: float, better: str) -> str:
    """The class the change gets: good news green, bad news red, no change neither."""
    if now == before:
        return ""
    return "good" if (now > before) == (better == "higher") else "bad"


def _pct(rate: float) -> str:
    """A share as the page writes it (app.js ``pct``: JavaScript's toFixed rounds half up)."""
    digits = 0 if rate >= 0.1 else 1
    scaled = rate * 100 * 10**digits
    return f"{int(scaled + 0.5) / 10**digits:.{digits}f}%"


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(seconds))


def _post(served: Served, *events: dict[str, Any]) -> None:
    status, answer = served.collector.request(
        "POST", "/v1/batch", body={"schema": 1, "events": list(events)}
    )
    assert status == 200 and not answer["rejected"], answer


def _message(cid: str, seq: int, text: str, sender: str = "end_user") -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "type": "message",
        "conversation_id": cid,
        "seq": seq,
        "timestamp": _stamp(time.time()),
        "sender": sender,
        "content": text,
    }


def test_period_presets_compare_with_the_previous_period(page: Any, served: Served) -> None:
    """Last 7 days shows that week's figures and the change against the week before;
    the choice is in the URL, so the same view opens from a shared link."""
    # The history lies 1 to 28 days back (each on its own day's hours): the
    # last 7 days hold days 0 to 6 back, the 7 before them days 7 to 13.
    assert page.locator('[data-delta="conversations"]').count() == 1  # 30 days by default
    page.select_option('#filters select[name="range"]', "7d")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**range=7d**")
    page.wait_for_selector("#tiles[data-compared]")
    now = time.time()
    week = _api(served, "/v1/metrics", since=_iso(now - 7 * DAY))["totals"]
    before = _api(served, "/v1/metrics", since=_iso(now - 14 * DAY), until=_iso(now - 7 * DAY))
    assert _tile(page, "conversations") == f"{week['conversations']:,}"
    expected = _change(week["conversations"], before["totals"]["conversations"])
    assert page.text_content('[data-delta="conversations"]') == expected
    assert page.text_content('[data-delta="messages"]') == _change(
        week["messages"], before["totals"]["messages"]
    )
    # More conversations is good news, a longer wait for an answer is not.
    waits = _api(served, "/v1/metrics", since=_iso(now - 7 * DAY))["response_time_ms"]["avg"]
    assert waits is not None and before["response_time_ms"]["avg"] is not None
    tones = {
        "conversations": _tone(week["conversations"], before["totals"]["conversations"], "higher"),
        "response_time": _tone(waits, before["response_time_ms"]["avg"], "lower"),
    }
    for name, tone in tones.items():
        classes = page.get_attribute(f'[data-delta="{name}"]', "class").split()
        assert classes[1:] == ([tone] if tone else []), (name, classes)

    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    page.wait_for_selector("#tiles[data-compared]")
    assert page.input_value('#filters select[name="range"]') == "7d"
    assert _tile(page, "conversations") == f"{week['conversations']:,}"

    page.select_option('#filters select[name="range"]', "all")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**range=all**")
    page.wait_for_selector("#tiles[data-compared]")
    assert page.locator("[data-delta]").count() == 0  # all time has no previous period
    # Dates make the period a custom one.
    page.fill(
        '#filters input[name="since"]', time.strftime("%Y-%m-%d", time.gmtime(now - 10 * DAY))
    )
    page.click("#filters button[type=submit]")
    page.wait_for_url("**range=custom**")
    assert "since=" in urllib.parse.unquote(page.url)


def test_the_figures_do_not_wait_for_the_comparison(page: Any, served: Served) -> None:
    """The overview asks for its period's figures alone and shows them; only then the
    period before (the tiles' changes), and after that the unhandled messages (and the
    metadata keys): asked at once, they shared the collector's cores and the figures
    waited for all of them."""
    seen: list[tuple[str, str]] = []

    def log(kind: str) -> Any:
        def record(request: Any) -> None:
            path = urllib.parse.urlparse(request.url).path
            if path in ("/v1/metrics", "/v1/metrics/summary", "/v1/metrics/unhandled"):
                seen.append((kind, path))

        return record

    page.goto(f"{served.collector.url}/#/?range=30d")
    page.wait_for_selector("#unhandled-table")
    page.on("request", log("asked"))
    page.on("requestfinished", log("answered"))
    page.reload()
    page.wait_for_selector("#tiles[data-compared]")
    page.wait_for_selector("#unhandled-table")
    assert page.locator('[data-delta="conversations"]').count() == 1
    assert seen == [
        ("asked", "/v1/metrics"),
        ("answered", "/v1/metrics"),
        ("asked", "/v1/metrics/summary"),
        ("answered", "/v1/metrics/summary"),
        ("asked", "/v1/metrics/unhandled"),
        ("answered", "/v1/metrics/unhandled"),
    ], seen


def test_overview_breakdowns(page: Any, served: Served, browser: Any) -> None:
    """Buttons and ratings, returning customers, unhandled messages and metadata values."""
    page.goto(f"{served.collector.url}/#/?range=all")
    page.wait_for_selector("#unhandled-table")
    unhandled = _api(served, "/v1/metrics/unhandled", limit=10)
    shown = page.locator("#unhandled-table tbody tr td:first-child").all_text_contents()
    assert shown == [g["example"] for g in unhandled["groups"]]
    figures = _api(served, "/v1/metrics")
    customers = figures["customers"]
    assert page.text_content("#returning") == (
        f"{customers['returning']:,} of {customers['customers']:,} customers came back on"
        f" another day ({_pct(customers['returning_rate'])})"
    )
    assert page.locator("#cohort-table tbody tr").count() == min(
        8, len(figures["retention"]["cohorts"])
    )
    page.fill("#metadata-key", "seeded")
    page.click("#metadata-form button[type=submit]")
    page.wait_for_selector("#metadata-values .bar-row")
    assert page.text_content("#metadata-values .bar-name") == "true"

    # Project B: the demo bot pressed buttons.
    page.select_option("#project", "B")
    page.goto(f"{served.collector.url}/#/?range=all")
    page.wait_for_selector("#buttons")
    buttons = _api(served, "/v1/metrics", "B")["buttons"]
    assert buttons["presses"] > 0
    names = page.locator("#buttons > .bars .bar-name").all_text_contents()
    assert names == [f"{b['button_event']} · {b['label']}" for b in buttons["by_label"][:8]]
    assert _tile(page, "buttons") == f"{buttons['presses']:,}"
    page.wait_for_selector("#unhandled-table")
    page.locator("#buttons").scroll_into_view_if_needed()
    _shot(page, "overview-analytics.png")


def test_customers_page(page: Any, served: Served) -> None:
    """Customers sorted as asked, with their figures; one opens its conversations."""
    page.click('[data-nav="customers"]')
    page.wait_for_selector("#customer-table")
    page.goto(f"{served.collector.url}/#/customers?range=all&sort=conversations")
    answer = _api(served, "/v1/customers", sort="conversations", limit=25)
    first_id = answer["customers"][0]["customer_id"]
    page.wait_for_selector(f'#customer-table tbody tr:first-child[data-customer="{first_id}"]')
    rows = page.locator("#customer-table tbody tr")
    assert [rows.nth(i).get_attribute("data-customer") for i in range(rows.count())] == [
        c["customer_id"] for c in answer["customers"]
    ]
    assert page.text_content("#customer-count") == f"1\u201325 of {answer['total']:,} customers"
    first = answer["customers"][0]
    rows.first.click()
    page.wait_for_url("**customer_id=**")
    page.wait_for_selector("#conversation-table tbody tr")
    listed = page.locator("#conversation-table tbody tr").count()
    assert listed == min(25, first["conversations"])
    assert page.text_content("#total-count") == f"· {first['conversations']:,}"
    # By cost, most first, with each customer's cost.
    page.goto(f"{served.collector.url}/#/customers?range=all&sort=cost")
    by_cost = _api(served, "/v1/customers", sort="cost", limit=25)["customers"]
    assert by_cost[0]["customer_id"] == "llm-customer"  # the one with priced model calls
    page.wait_for_selector('#customer-table tbody tr:first-child[data-customer="llm-customer"]')
    assert page.input_value("#customer-sort") == "cost"
    cost = by_cost[0]["cost"]
    dollars = f"${cost['usd']:.2g}" if cost["usd"] < 0.01 else f"${cost['usd']:,.2f}"
    unpriced = f" · {cost['unpriced_calls']} unpriced" if cost["unpriced_calls"] else ""
    assert page.text_content('[data-cost="llm-customer"]') == dollars + unpriced


def test_desktop_screenshots(page: Any, served: Served) -> None:
    """The conversation list and the customers page at desktop size, for the docs."""
    page.click('[data-nav="conversations"]')
    page.wait_for_selector("#total-count:has-text('·')")
    page.wait_for_load_state("networkidle")
    _fits_desktop = page.evaluate("document.documentElement.scrollWidth")
    assert _fits_desktop <= 1280
    _shot(page, "conversations.png")
    page.click('[data-nav="customers"]')
    page.wait_for_selector("#customer-table")
    _shot(page, "customers.png")


def test_list_columns_sort_pick_lists_and_live_rows(page: Any, served: Served) -> None:
    """The list shows its total and new columns, sorts, offers the values present,
    and shows a new conversation without a reload."""
    page.click('[data-nav="conversations"]')
    page.wait_for_selector("#total-count:has-text('·')")
    total = _api(served, "/v1/conversations", limit=1)["total"]
    assert page.text_content("#total-count") == f"· {total:,}"
    assert page.locator('#conversation-table [data-col="escalated"]').count() >= 1

    page.wait_for_selector('#filters select[name="language"][data-loaded]', state="attached")
    present = _api(served, "/v1/filter-values")
    options = page.locator('#filters select[name="language"] option').evaluate_all(
        "nodes => nodes.map(n => n.value)"
    )
    assert options == ["", *[v["value"] for v in present["language"]]]

    page.select_option('#filters select[name="sort"]', "duration")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**sort=duration**")
    page.wait_for_selector("#page-label:has-text('Page 1')")
    expected = _api(served, "/v1/conversations", sort="duration", limit=25)["conversations"]
    rows = page.locator("#conversation-table tbody tr")
    assert [rows.nth(i).get_attribute("data-cid") for i in range(rows.count())] == [
        c["conversation_id"] for c in expected
    ]

    page.click('[data-nav="conversations"]')
    page.wait_for_selector("#total-count:has-text('·')")
    cid = f"live-{uuid.uuid4().hex[:8]}"
    _post(served, _message(cid, 0, "Is anyone there?"))
    page.wait_for_selector(f'#conversation-table tr[data-cid="{cid}"]', timeout=20_000)
    assert page.text_content("#total-count") == f"· {total + 1:,}"


def test_an_open_transcript_shows_new_events(page: Any, served: Served) -> None:
    """A message tracked while the transcript is open appears without a reload."""
    cid = f"live-{uuid.uuid4().hex[:8]}"
    _post(served, _message(cid, 0, "First question"))
    page.goto(f"{served.collector.url}/#/conversation/{cid}")
    page.wait_for_selector("#chat .bubble")
    _post(served, _message(cid, 1, "And the answer", "agent"))
    page.wait_for_selector("#chat .bubble:has-text('And the answer')", timeout=20_000)
    assert page.locator("#chat .bubble").all_text_contents() == ["First question", "And the answer"]


@pytest.fixture
def phone(browser: Any, served: Served) -> Iterator[Any]:
    """The admin, in project A, on a 420 px wide screen."""
    with signed_in(browser, served, viewport={"width": 420, "height": 860}, is_mobile=True) as tab:
        yield tab


def _fits(tab: Any) -> None:
    """Nothing of the page is wider than the screen; wide tables scroll in their card."""
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, width
    filters = tab.locator("#filters")
    if filters.count():
        assert filters.evaluate("f => f.scrollWidth <= f.clientWidth + 1")


def test_every_page_fits_a_phone(phone: Any, served: Served) -> None:
    """At 420 px the sidebar is a bar on top and no page scrolls sideways."""
    sidebar = phone.locator(".sidebar").bounding_box()
    assert sidebar["width"] >= 400 and sidebar["height"] < 200, sidebar
    phone.wait_for_load_state("networkidle")
    _fits(phone)
    _shot(phone, "overview-phone.png")
    for path, ready in [
        ("#/conversations", "#conversation-table"),
        ("#/customers", "#customer-table"),
        (f"#/conversation/{served.history.ids[3]}", "#chat .bubble"),
        ("#/settings", "#users-table"),
    ]:
        phone.goto(f"{served.collector.url}/{path}")
        phone.wait_for_selector(ready)
        _fits(phone)
        if path == "#/conversations":
            _shot(phone, "conversations-phone.png")
        if path.startswith("#/conversation/"):
            _shot(phone, "transcript-phone.png")
    phone.click('[data-nav="overview"]')
    phone.wait_for_selector("#tiles[data-compared]")
    # The filters fold away on a phone; the button opens them.
    assert not phone.locator('#filters select[name="range"]').is_visible()
    phone.click("#filters-toggle")
    phone.select_option('#filters select[name="range"]', "7d")
    phone.click("#filters button[type=submit]")
    phone.wait_for_url("**range=7d**")
    phone.wait_for_selector("#tiles[data-compared]")
    assert phone.text_content("#filters-toggle") == "Filters (1 set)"
    _fits(phone)
    box = phone.locator('[data-metric="conversations"]').bounding_box()
    assert box["width"] < 210  # two tiles a row
