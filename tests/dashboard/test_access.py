"""Signing in to the dashboard in Chromium: no key in the browser, viewers, CSRF, admins.

A viewer reads and is refused a delete; a page of another origin (another
site, and another port of the same site) forges changes with the admin's
cookie and gets nothing done; an admin sets the retention, erases a
customer, reads the audit log and grants a viewer a project.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.dashboard.conftest import PASSWORD, USERS, Served, sign_in


def _api(served: Served, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return served.collector.request(method, path, "A", body)


def test_the_browser_holds_no_api_key_and_cannot_read_the_session(
    browser: Any, served: Served
) -> None:
    """Signed in: an HttpOnly SameSite=Strict cookie, no Authorization header, no key anywhere."""
    context = browser.new_context()
    sent: list[dict[str, str]] = []
    try:
        tab = context.new_page()
        tab.on("request", lambda request: sent.append(request.headers))
        sign_in(tab, served, "A")
        tab.click('[data-nav="conversations"]')
        tab.wait_for_selector("#conversation-table")
        [cookie] = context.cookies()
        assert cookie["name"] == "agentsight_session"
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Strict", False)
        assert tab.evaluate("document.cookie") == ""  # no script reads it
        stored = tab.evaluate(
            "JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
        )
        html = tab.content()
        for key in served.collector.keys.values():
            assert key not in html and key not in stored
        assert "ags_" not in stored
        assert not [h for h in sent if "authorization" in h]
        assert any(h.get("x-agentsight-project") == "A" for h in sent)
    finally:
        context.close()


def test_a_viewer_reads_its_project_and_its_delete_is_refused(browser: Any, served: Served) -> None:
    """A viewer sees A only, is offered no change, and the collector refuses its delete."""
    cid = served.history.ids[3]
    context = browser.new_context()
    try:
        tab = context.new_page()
        sign_in(tab, served, "A", role="viewer")
        assert tab.eval_on_selector_all("#project option", "o => o.map(x => x.value)") == ["A"]
        assert tab.is_hidden("#settings-link")
        tab.goto(f"{served.collector.url}/#/conversation/{urllib.parse.quote(cid)}")
        tab.wait_for_selector("#chat .bubble")
        assert tab.text_content("#conversation-name")
        for control in ("#delete", "#mark", "#rename-form", "[data-sentiment]"):
            assert tab.locator(control).count() == 0, control
        # The viewer tries anyway, from the dashboard's own origin, with its CSRF token.
        answer = tab.evaluate(
            """async (cid) => {
                const session = await (await fetch("/v1/session")).json();
                const headers = {"X-CSRF-Token": session.csrf_token, "X-AgentSight-Project": "A"};
                const url = "/v1/conversations/" + encodeURIComponent(cid);
                const refused = await fetch(url, {method: "DELETE", headers});
                const other = await fetch(
                    "/v1/conversations", {headers: {"X-AgentSight-Project": "B"}});
                return [refused.status, (await refused.json()).error, other.status];
            }""",
            cid,
        )
        assert answer[0] == 403 and "role 'viewer'" in answer[1], answer
        assert answer[2] == 403  # project B is not granted
        status, detail = _api(served, "GET", f"/v1/conversations/{urllib.parse.quote(cid)}")
        assert status == 200 and detail["events"]
    finally:
        context.close()


_FORGER = """<!doctype html><title>win a prize</title>
<form id="f" method="POST" action="{target}/feedback" enctype="text/plain" target="sink">
<input name='{{"sentiment": "negative", "comment": "forged", "x": "' value='"}}'></form>
<iframe name="sink" id="sink"></iframe>
<script>
const attempts = [
  fetch("{target}", {{method: "DELETE", credentials: "include"}}),
  fetch("{origin}/v1/retention", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: '{{"retention_days": 1}}'}}),
  fetch("{target}/feedback", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: '{{"sentiment": "negative"}}'}}),
];
Promise.allSettled(attempts).then(() => {{
  document.getElementById("sink").onload = () => {{ document.title = "done"; }};
  document.getElementById("f").submit();
}});
</script>"""


@contextmanager
def _forger(page: str) -> Iterator[int]:
    """A web server of an attacker on a loopback port: every path answers *page*."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_forged_cross_site_post_is_refused(page: Any, served: Served) -> None:
    """With the admin signed in, another site's and another port's forged changes do nothing."""
    cid = served.special["forged"]
    origin = served.collector.url
    target = f"{origin}/v1/conversations/{cid}"
    with _forger(_FORGER.format(target=target, origin=origin)) as port:
        # localhost is another site (the cookie is not even sent); 127.0.0.1 on another
        # port is the same site but another origin (sent, and refused without the token).
        for host, refusal in (("localhost", "Authorization"), ("127.0.0.1", "only this dashboard")):
            forged = page.context.new_page()
            forged.goto(f"http://{host}:{port}/prize")
            forged.wait_for_function("document.title === 'done'")
            answer = json.loads(forged.frame(name="sink").inner_text("body"))
            assert refusal in answer["error"], (host, answer)
            forged.close()
    status, detail = _api(served, "GET", f"/v1/conversations/{cid}")
    assert status == 200, "the forged DELETE went through"
    assert detail["conversation"]["feedback"] == []
    assert _api(served, "GET", "/v1/retention")[1]["retention_days"] is None
    # And the admin's own session still works.
    page.goto(f"{origin}/#/conversation/{cid}")
    page.wait_for_selector("#delete")


def _users_list(served: Served) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentsight._cli",
            "users",
            "list",
            f"--db={served.collector.db}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_an_admin_sets_retention_erases_a_customer_and_reads_the_audit_log(
    page: Any, served: Served
) -> None:
    """The settings page changes what the API then answers, and logs who did it."""
    page.on("dialog", lambda dialog: dialog.accept())  # the erasure asks first
    status, listing = served.collector.request("GET", "/v1/conversations", customer_id="cust-007")
    assert status == 200 and listing["conversations"], "the history has cust-007"
    erased = len(listing["conversations"])
    page.click('[data-nav="settings"]')
    page.wait_for_selector("#retention-form")
    page.fill("#retention-days", "400")
    page.click("#retention-form button[type=submit]")
    page.wait_for_selector("#toast:has-text('Kept 400 days')")
    assert _api(served, "GET", "/v1/retention")[1]["retention_days"] == 400

    page.fill("#erase-customer", "cust-007")
    page.click("#erase-form button[type=submit]")
    page.wait_for_selector(f"#erase-result:has-text('Erased {erased} conversations')")
    status, listing = served.collector.request("GET", "/v1/conversations", customer_id="cust-007")
    assert listing["conversations"] == []

    page.reload()
    page.wait_for_selector("#audit-table")
    page.wait_for_selector("#users-table")
    rows = page.locator("#audit-table tbody tr").all_inner_texts()
    assert "customer.erase" in rows[0] and USERS["admin"] in rows[0]
    assert "retention.set" in rows[1] and "127.0.0.1" in rows[1]
    # An admin user also sees what concerns the whole collector: the users made at the start.
    assert any("user.create" in row and USERS["viewer"] in row for row in rows)
    assert "cust-007" not in page.content()  # the log names the customer by a hash only

    viewer = page.locator(f'#users-table tr[data-user="{USERS["viewer"]}"]')
    viewer.locator('input[value="B"]').check()
    viewer.locator("button").click()
    page.wait_for_selector("#toast:has-text('Saved')")
    assert "A, B" in _users_list(served)
    viewer.locator('input[value="B"]').uncheck()
    viewer.locator("button").click()
    page.wait_for_selector("#toast:has-text('Saved')")
    page.fill("#retention-days", "")
    page.click("#retention-form button[type=submit]")
    page.wait_for_selector("#toast:has-text('Kept for ever')")


def test_signing_out_forgets_the_session(page: Any, served: Served) -> None:
    """Sign out: the sign-in form is back, the cookie gone, and a reload stays signed out."""
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    assert page.context.cookies() == []
    page.reload()
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#email-input", USERS["viewer"])
    page.fill("#password-input", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#tiles[data-compared]")
