"""``agentsight.redact.pii``: what it replaces, what it leaves, and what it costs at worst.

Valid cards and IBANs are generated with correct check digits, phone numbers
come from libphonenumber's examples for every region it knows (the
``phonenumberslite`` package), and python-stdnum confirms the check digits of
what is generated: independent oracles, not our own code.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from pathlib import Path

import phonenumbers
import pytest
import stdnum
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.iso7064 import mod_97_10

from agentsight.redact import CARD, EMAIL, IBAN, IBAN_LENGTHS, PHONE, card_valid, pii

# -- examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at ana.maria+tag@example.co.uk please", "mail me at [email] please"),
        ("o'brien@x.com, ANA@EXAMPLE.COM.", "[email], [email]."),
        ("jörg@bücher.de", "[email]"),
        ("<ana@example.com>", "<[email]>"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [iban] thanks"),
        ("DE89370400440532013000", "[iban]"),
        ("de89 3704 0044 0532 0130 00", "[iban]"),
        ("GB82 WEST 1234 5698 7654 32", "[iban]"),
        ("BE68 5390 0754 7034 THEN", "[iban] THEN"),
        ("DE89370400440532013000 DE89370400440532013000", "[iban] [iban]"),
        ("card 4111 1111 1111 1111 exp 12/26", "card [card] exp 12/26"),
        ("4111-1111-1111-1111", "[card]"),
        ("3782 822463 10005 (amex)", "[card] (amex)"),
        ("card 4111 1111 1111 1111 2024", "card [card] 2024"),
        ("4000 1234 5678 9010 3", "4000 1234 5678 9010 3"),
        ("4000 0000 0000 0000 006", "[card]"),
        ("ref 12: 4111 1111 1111 1111", "ref 12: [card]"),
        ("4111 1111 1111 1111 4111 1111 1111 1111", "[card] [card]"),
        ("020 7946 0958 030 1234 5678", "[phone] [phone]"),
        ("call +44 20 7946 0958 now", "call [phone] now"),
        ("+1 (415) 555-2671", "[phone]"),
        ("(+44) 20 7946 0958", "([phone]"),
        ("+44 (0)20 7946 0958", "[phone]"),
        ("0044 20 7946 0958", "[phone]"),
        ("020 7946 0958", "[phone]"),
        ("06.12.34.56.78", "[phone]"),
        ("(415) 555-2671 or 415.555.2671", "[phone] or [phone]"),
        ("1-800-555-0199", "[phone]"),
        ("call +44 20 7946 0958 1234 times", "call [phone] 1234 times"),
        (
            "ana@example.com, +34 612 34 56 78, 5555 5555 5555 4444, ES91 2100 0418 4502 0005 1332",
            "[email], [phone], [card], [iban]",
        ),
    ],
)
def test_finds_each_kind(text: str, expected: str) -> None:
    """Addresses, numbers, cards and IBANs in common forms become their markers."""
    assert pii(text) == expected


FALSE_POSITIVES = [
    "Order #4155552671 shipped",
    "order 4155552671",
    "order 123456789012",
    "ORD-2024-001234",
    "2024-01-15",
    "15/01/2024",
    "01.02.2023",
    "2024-01-15T10:30:00Z",
    "2024-01-15 10:30:00",
    "01.02.2024 10.30",
    "01-02-2024 1030",
    "10:30:45",
    "1700000000000",
    "1700000000",
    "1.2.3.4",
    "192.168.1.100",
    "$1,234,567.89",
    "1 234 567,89 €",
    "123e4567-e89b-12d3-a456-426614174000",
    "978-3-16-148410-0",
    "+20% growth",
    "+1234.56",
    "v10.15.7",
    "#123-456-7890",
    "80351110224678912",
    "3 x 250 ml, sizes 10-20, 2020-2024",
    "Total: 0.0012345678",
    "id 0000123456",
    "tel +1",
    "user@localhost, foo@bar.c, @handle",
    "4111 1111 1111 1112",
    "DE89 3704 0044 0532 0130 01",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_leaves_what_only_looks_like_it(text: str) -> None:
    """Order numbers, dates, times, timestamps, amounts, versions, addresses of hosts,
    ids, and numbers whose check digit is wrong come back unchanged."""
    assert pii(text) == text


# -- cards ------------------------------------------------------------------------------------

# (prefix, length) of each network the rule knows, as issued.
NETWORKS = [
    ("4", 16), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
    ("34", 15), ("37", 15), ("300", 14), ("36", 14), ("38", 16), ("6011", 16), ("644", 16),
    ("65", 19), ("3528", 16), ("3589", 19), ("62", 17), ("2200", 16), ("5018", 13),
    ("6759", 18),
]  # fmt: skip


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn.is_valid(body + digit):
            return body + digit
    raise AssertionError("no Luhn digit")  # pragma: no cover - one always fits


@st.composite
def cards(draw: st.DrawFn) -> str:
    """A card number with a correct check digit (python-stdnum's Luhn)."""
    prefix, length = draw(st.sampled_from(NETWORKS))
    body = prefix + draw(st.text("0123456789", min_size=length - len(prefix) - 1,
                                 max_size=length - len(prefix) - 1))  # fmt: skip
    return _with_check_digit(body)


def _grouped(number: str, style: str) -> str:
    if style == "bare":
        return number
    separator = " " if style == "spaces" else "-"
    if len(number) in (14, 15):  # Diners prints 4-6-4, American Express 4-6-5
        return separator.join((number[:4], number[4:10], number[10:]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


SURROUNDINGS = st.sampled_from(
    [("", ""), ("card ", " please"), ("my card: ", "."), ("(", ")"), ("paid with ", ", thanks")]
)


@given(cards(), st.sampled_from(["bare", "spaces", "dashes"]), SURROUNDINGS)
@settings(max_examples=300, deadline=None)
def test_every_valid_card_is_caught(number: str, style: str, around: tuple[str, str]) -> None:
    """Card numbers of every network, with a correct Luhn digit, bare or grouped by spaces
    or dashes, become [card] and the text around them stays."""
    before, after = around
    assert pii(before + _grouped(number, style) + after) == before + CARD + after


@given(cards(), st.integers(min_value=0), st.sampled_from(["bare", "spaces", "dashes"]))
@settings(max_examples=300, deadline=None)
def test_a_card_with_one_wrong_digit_is_left(number: str, seed: int, style: str) -> None:
    """Change one digit of a valid card (the Luhn check then fails, as stdnum confirms):
    it is no card any more, and the text is left as it was."""
    rng = random.Random(seed)
    position = rng.randrange(len(number))
    digit = rng.choice([d for d in "0123456789" if d != number[position]])
    wrong = number[:position] + digit + number[position + 1 :]
    assume(not luhn.is_valid(wrong))  # the first digit may move it to no network: fine too
    text = f"card {_grouped(wrong, style)} here"
    assert CARD not in pii(text)


@given(
    st.sampled_from("01789"),
    st.integers(min_value=13, max_value=19),
    st.text("0123456789", min_size=18, max_size=18),
)
def test_luhn_valid_numbers_of_no_card_network_are_left(first: str, length: int, rest: str) -> None:
    """Order numbers and millisecond timestamps that happen to pass Luhn (one in ten
    does) but start like no card (0, 1, 7, 8, 9) stay."""
    number = _with_check_digit(first + rest[: length - 2])
    assert not card_valid(number)
    assert pii(f"order {number}") == f"order {number}"


@given(st.text("0123456789", min_size=15, max_size=15), st.sampled_from(["bare", "spaces"]))
def test_a_card_of_a_length_its_network_never_issues_is_left(rest: str, style: str) -> None:
    """A Luhn-valid Visa-like number of 17 digits (Visa issues 16 and 19) stays."""
    number = _with_check_digit("4" + rest)
    assert pii(_grouped(number, style)) == _grouped(number, style)


# -- IBANs ------------------------------------------------------------------------------------


def _registry() -> dict[str, str]:
    """Each country's BBAN structure (``8!n10!n``) from python-stdnum's copy of the registry."""
    data = Path(stdnum.__file__).with_name("iban.dat").read_text()
    return dict(re.findall(r'^([A-Z]{2}) .*bban="([^"]+)"', data, re.MULTILINE))


REGISTRY = _registry()
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_KINDS = {"n": "0123456789", "a": _LETTERS, "c": "0123456789" + _LETTERS}


def test_iban_lengths_agree_with_the_registry() -> None:
    """Our table of IBAN lengths is python-stdnum's registry copy, country by country."""
    for country, structure in REGISTRY.items():
        bban = sum(int(n) for n in re.findall(r"(\d+)!", structure))
        assert IBAN_LENGTHS.get(country) == 4 + bban, country
    assert set(IBAN_LENGTHS) == set(REGISTRY)


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """A compact IBAN of a registry country, its BBAN in the country's structure, with
    check digits computed by python-stdnum (ISO 7064 mod 97-10)."""
    country = draw(st.sampled_from(sorted(REGISTRY)))
    bban = "".join(
        draw(st.text(_KINDS[kind], min_size=int(size), max_size=int(size)))
        for size, kind in re.findall(r"(\d+)!([nac])", REGISTRY[country])
    )
    check = mod_97_10.calc_check_digits(bban + country)
    number = country + check + bban
    assert mod_97_10.is_valid(number[4:] + number[:4])
    return number


def _printed(number: str, style: str) -> str:
    if style == "groups":
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number.lower() if style == "lower" else number


@given(ibans(), st.sampled_from(["compact", "groups", "lower"]), SURROUNDINGS)
@example("NO9386011117947", "groups", ("", ""))
@settings(max_examples=300, deadline=None)
def test_every_valid_iban_is_caught(number: str, style: str, around: tuple[str, str]) -> None:
    """IBANs of every registry country, compact, in groups of four or in lower case,
    become [iban] and the text around them stays."""
    before, after = around
    assert pii(before + _printed(number, style) + after) == before + IBAN + after


@given(ibans(), st.integers(min_value=0), st.sampled_from(["compact", "groups"]))
@settings(max_examples=300, deadline=None)
def test_an_iban_with_one_wrong_character_is_not_taken(number: str, seed: int, style: str) -> None:
    """Change one character after the country (mod 97 catches every single change, as
    stdnum confirms): it is not redacted as an IBAN."""
    rng = random.Random(seed)
    position = rng.randrange(2, len(number))
    pool = "0123456789" if position < 4 or number[position].isdigit() else _KINDS["a"]
    wrong = (
        number[:position] + rng.choice(pool.replace(number[position], "")) + number[position + 1 :]
    )
    assert not mod_97_10.is_valid(wrong[4:] + wrong[:4])
    assert IBAN not in pii(f"IBAN {_printed(wrong, style)}.")


# -- phone numbers ----------------------------------------------------------------------------

_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
EXAMPLES = [
    (region, number)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    for kind in _TYPES
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
]
# Regions whose national numbers start with a trunk 0 or are North American.
NATIONAL = ["US", "CA", "GB", "FR", "DE", "NL", "CH", "AT", "SE", "IE", "IN", "AU", "JP",
            "ZA", "NG", "TR", "BE", "NZ", "KR", "TH", "PH", "EG", "IL", "FI"]  # fmt: skip


def test_every_regions_example_numbers_are_caught_in_international_form() -> None:
    """libphonenumber's example mobile and fixed-line number of every region it knows
    (some 240), in E.164 and in its international format, becomes [phone]."""
    missed = []
    for region, number in EXAMPLES:
        for style in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        ):
            text = phonenumbers.format_number(number, style)
            if pii(f"tel {text}, thanks") != f"tel {PHONE}, thanks":
                missed.append((region, text))
    assert len(EXAMPLES) > 400
    assert missed == []


@given(st.sampled_from([e for e in EXAMPLES if e[0] in NATIONAL]), st.integers(0, 9999))
@settings(max_examples=300, deadline=None)
def test_national_numbers_with_a_trunk_zero_are_caught(
    example: tuple[str, phonenumbers.PhoneNumber], tail: int
) -> None:
    """Valid numbers (libphonenumber says so) of regions that dial a trunk 0 or are North
    American, in their national format (with nine digits or more: Stockholm's 08-12 34 56
    is too short) and in E.164, become [phone]."""
    region, number = example
    varied = phonenumbers.parse(
        str(number.national_number)[:-4] + f"{tail:04d}", region, keep_raw_input=False
    )
    assume(phonenumbers.is_valid_number(varied))
    national = phonenumbers.format_number(varied, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = len(re.sub(r"\D", "", national))
    assume(digits >= 10 or (digits == 9 and national != re.sub(r"\D", "", national)))
    for text in (national, phonenumbers.format_number(varied, phonenumbers.PhoneNumberFormat.E164)):
        assert pii(f"call {text} today") == f"call {PHONE} today", (region, text)


# -- what looks like a number but is none ------------------------------------------------------

DATE_FORMATS = [
    "%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S",
    "%d.%m.%Y %H.%M", "%d.%m.%Y %H:%M", "%d-%m-%Y %H%M", "%Y%m%d", "%Y%m%d%H%M%S", "%H:%M:%S",
    "%d.%m.%y", "%Y.%m.%d %H:%M",
]  # fmt: skip


@given(
    st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2100, 1, 1)),
    st.sampled_from(DATE_FORMATS),
)
def test_dates_and_times_are_left(when: dt.datetime, form: str) -> None:
    """Dates and times in common formats, and Unix timestamps in seconds and milliseconds,
    stay."""
    for text in (
        when.strftime(form),
        str(int(when.replace(tzinfo=dt.timezone.utc).timestamp())),
        str(int(when.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)),
    ):
        assert pii(f"at {text} ok") == f"at {text} ok"


@given(st.ip_addresses(v=4), st.ip_addresses(v=6))
def test_ip_addresses_are_left(v4: object, v6: object) -> None:
    """IPv4 and IPv6 addresses stay."""
    text = f"from {v4} and {v6}"
    assert pii(text) == text


@given(
    st.integers(0, 10**12),
    st.integers(0, 99),
    st.sampled_from(["{:,}.{:02d}", "{:_}.{:02d}", "{}.{:02d}", "#{}", "v{}.{:d}.1"]),
)
def test_amounts_order_numbers_and_versions_are_left(whole: int, cents: int, form: str) -> None:
    """Amounts with or without thousands separators, '#'-numbers and versions stay."""
    text = form.format(whole, cents).replace("_", " ")
    assert pii(f"total {text}") == f"total {text}"


# -- as a whole ---------------------------------------------------------------------------------

PIECES = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
    cards().map(lambda n: _grouped(n, "spaces")),
    ibans(),
    st.sampled_from(["ana@example.com", "+44 20 7946 0958", "(415) 555-2671", "2024-01-15"]),
)


@given(st.lists(PIECES, max_size=8).map(" ".join))
@settings(max_examples=300, deadline=None)
def test_redacting_twice_changes_nothing_more(text: str) -> None:
    """pii(pii(text)) == pii(text): the markers match no rule; and nothing raises."""
    once = pii(text)
    assert pii(once) == once


ADVERSARIAL = {
    "digits": "1" * 100_000,
    "digit groups": "22 " * 33_333,
    "pluses": "+1 " * 33_333,
    "zeros": "00 " * 33_333,
    "parentheses": "(1)" * 33_333,
    "at signs": "a@" * 50_000,
    "domains": "a@b." * 25_000,
    "long local part": "x" * 100_000 + "@example.com",
    "iban starts": "DE89 " * 20_000,
    "letters and digits": "ab12" * 25_000,
    "many findings": "ana@example.com +44 20 7946 0958 4111 1111 1111 1111 " * 2_000,
    "near numbers in one run": "010000000 4000000000000002 " * 3_700,
    "phone after phone": "01 " * 33_333,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_a_hostile_text_cannot_hold_the_caller(name: str, figures: object) -> None:
    """100,000 characters built to make patterns backtrack take well under a second (a
    few tens of milliseconds here): a user's message cannot stall the bot's thread."""
    text = ADVERSARIAL[name]
    best = min(_timed(text) for _ in range(3))
    assert best < 1.0, f"{name}: {best:.3f} s"


def _timed(text: str) -> float:
    start = time.perf_counter()
    pii(text)
    return time.perf_counter() - start


def test_markers_are_the_documented_ones() -> None:
    """The markers as the docs name them."""
    assert (EMAIL, PHONE, CARD, IBAN) == ("[email]", "[phone]", "[card]", "[iban]")
