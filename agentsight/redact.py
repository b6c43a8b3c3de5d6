"""Redaction rules: keep e-mail addresses, phone numbers, cards and IBANs out of storage.

    from agentsight import ConversationTracker
    from agentsight.redact import pii

    tracker = ConversationTracker(redact=pii)   # or AGENTSIGHT_REDACT=pii
    pii("mail me at ana@example.com")           # 'mail me at [email]'

``pii`` is a plain ``str -> str`` function: the SDK applies it (or any
function of yours) to the text of what it tracks, in the calling thread,
before the event is queued; ``agentsight serve --redact pii`` applies the
same function to what arrives at the collector.  ``docs/redaction.md`` lists
the fields it sees.

The rules aim at few false positives: each pattern finds a candidate and a
check decides.

- **E-mail** (``[email]``): ``local@domain.tld`` with a dotted domain and a
  letters-only top-level domain of two or more letters.
- **IBAN** (``[iban]``): two letters, two check digits and the account
  number, in one piece or in groups of four; redacted only when the country
  is in the IBAN registry, the length is that country's, and the ISO 7064
  mod-97 check holds.
- **Card** (``[card]``): 13 to 19 digits, in one piece or in groups split by
  single spaces or dashes; redacted only when the number starts like a card
  of a known network (Visa, Mastercard, American Express, Discover, Diners,
  JCB, UnionPay, Maestro, Mir), has a length that network issues, and passes
  the Luhn check.  Order numbers, millisecond timestamps (they start with
  1 until 2033, then take a length no network issues) and ids of other
  lengths stay.
- **Phone** (``[phone]``): an international number (``+`` or ``00``, then
  the country code, 7 to 15 digits in all: ``+44 20 7946 0958``,
  ``+1 (415) 555-2671``, ``+14155552671``, ``0033 1 23 45 67 89``), a
  national number with a trunk ``0`` (10 to 12 digits, or 9 written in
  groups: ``020 7946 0958``, ``06 12 34 56 78``, ``(02) 1234 5678``), or a
  North American one written with separators (``(415) 555-2671``,
  ``415-555-2671``).  A bare run of digits without ``+`` or a leading ``0``
  is never taken for a phone number (order numbers, timestamps), nor is
  anything shaped like a date (``01.02.2024 10.30``), a time, a decimal
  number, a version or an IP address.  National numbers without a trunk
  ``0`` (Spain's ``612 34 56 78``, Poland's ``512 345 678``) are found
  only with their country code: written alone they look like amounts.

The rules run in that order, so the digits of an e-mail address or an IBAN
are not read again as a card or a phone number.  Their work grows linearly
with the text (no pattern can backtrack without bound; the card and phone
rules look only at runs of eight or more digits), and text without an ``@``
or a digit comes back at once.  Digits are the ASCII ones.  Applying ``pii``
twice changes nothing more: the markers match no rule.

.. versionadded:: 0.2
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

__all__ = [
    "CARD",
    "EMAIL",
    "IBAN",
    "IBAN_LENGTHS",
    "PHONE",
    "card_valid",
    "iban_valid",
    "luhn_valid",
    "pii",
]

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
IBAN = "[iban]"

# -- e-mail -------------------------------------------------------------------------------------

# A match may start only where the local part starts (not inside a run of its
# characters), and is looked for only around each '@', from 64 characters
# before it (the longest local part RFC 5321 allows) to 256 after.
# It starts with a letter, a digit or one of %+-_ (an apostrophe or a dot before
# it is a quote or punctuation: 'ana@example.com').
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w%+-][\w.%+'-]*@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w-])"
)
_LOCAL_MAX = 64
_DOMAIN_MAX = 256

# -- IBAN -------------------------------------------------------------------------------------

#: Length of the IBAN of each country in the SWIFT IBAN registry (release 101).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# Country, check digits, then up to 30 more letters or digits, each maybe after
# one space; _iban_end takes the country's length from the front of it.
_IBAN = re.compile(r"(?<![^\W_])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}")
_ALNUM = re.compile(r"[A-Za-z0-9]")


def iban_valid(compact: str) -> bool:
    """Whether *compact* (no spaces) is an IBAN: a registry country, its length, mod-97.

    Args:
        compact: the IBAN without spaces, in either case.
    """
    compact = compact.upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if not (compact.isascii() and compact.isalnum() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]  # ISO 13616: letters count as 10 to 35
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban_end(text: str, match: re.Match[str]) -> int:
    """End of the IBAN at *match*, or -1: the country's length taken from the front
    of the candidate, which must end where its group of characters ends."""
    candidate = match.group()
    length = IBAN_LENGTHS.get(candidate[:2].upper())
    if length is None:
        return -1
    count = 0
    for end, char in enumerate(candidate, 1):
        if char != " ":
            count += 1
            if count == length:
                stop = match.start() + end
                if _ALNUM.match(text, stop):  # it would end inside a word
                    return -1
                return stop if iban_valid(candidate[:end].replace(" ", "")) else -1
    return -1


# -- cards ------------------------------------------------------------------------------------

# 13-19 digits starting like a card, in one piece or in groups (the first of 2-6
# digits, "4000 1234 5678 9010 3" ends in one) split by one space or dash.
_CARD = re.compile(
    r"(?<![\w+#.,/:-])(?=[2-6])(?:[0-9]{13,19}|[0-9]{2,6}(?:[ -][0-9]{1,6}){1,8})"
    r"(?![\w]|[.,/:-][0-9])"
)


def _card_prefixes() -> dict[str, frozenset[int]]:
    """The card networks' number ranges (IIN) as {first digits: lengths issued}."""
    any_length = frozenset(range(16, 20))
    maestro = frozenset(range(13, 20))
    ranges = (
        (4, 4, frozenset({16, 19})),  # Visa (its 13-digit numbers are no longer issued)
        (51, 55, frozenset({16})),  # Mastercard
        (2221, 2720, frozenset({16})),  # Mastercard 2-series
        (34, 34, frozenset({15})),  # American Express
        (37, 37, frozenset({15})),
        (300, 305, frozenset(range(14, 20))),  # Diners Club
        (36, 36, frozenset(range(14, 20))),
        (38, 39, any_length),
        (6011, 6011, any_length),  # Discover
        (644, 649, any_length),
        (65, 65, any_length),
        (3528, 3589, any_length),  # JCB
        (62, 62, any_length),  # UnionPay
        (2200, 2204, any_length),  # Mir
        (5018, 5018, maestro),  # Maestro
        (5020, 5020, maestro),
        (5038, 5038, maestro),
        (5893, 5893, maestro),
        (6304, 6304, maestro),
        (6759, 6759, maestro),
        (6761, 6763, maestro),
    )
    return {str(n): lengths for low, high, lengths in ranges for n in range(low, high + 1)}


_CARD_PREFIXES = _card_prefixes()
# Each digit doubled, its digits summed: the Luhn weight of every second digit.
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn (mod 10) check."""
    # Digit sums as byte sums (each digit's code is 48 more than its value): one
    # C loop each, where int() per digit would take longer than the rest of pii().
    ones, twos = digits[-1::-2], digits[-2::-2].translate(_DOUBLED)
    return (sum(ones.encode()) + sum(twos.encode()) - 48 * len(digits)) % 10 == 0


def card_valid(digits: str) -> bool:
    """Whether *digits* (ASCII digits only) is a card number: it starts like a card of
    a known network, has a length that network issues, and passes the Luhn check."""
    for width in (1, 2, 3, 4):
        lengths = _CARD_PREFIXES.get(digits[:width])
        if lengths is not None:
            return len(digits) in lengths and luhn_valid(digits)
    return False


_DIGITS = re.compile(r"[0-9]+")


def _card_end(text: str, match: re.Match[str]) -> int:
    """End of the card number at *match*, or -1.

    Groups at the end that make it longer than any card are left out (a year
    or a quantity written right after the number); no more, or any long
    grouped number would have one chance in ten of holding a valid card.
    """
    groups = _DIGITS.findall(match.group())
    digits = "".join(groups)
    while len(digits) > 19 and len(groups) > 1:
        digits = digits[: -len(groups.pop())]
    if not card_valid(digits):
        return -1
    return match.start() + len(" ".join(groups))  # each separator is one character


# -- phone numbers ----------------------------------------------------------------------------

# Digit groups, each after a separator: one space, dash or dot, or an opening
# or closing parenthesis with at most one of those beside it.  A separator is
# required between groups, so each run of digits is taken whole: there is no
# other way to split it, hence no backtracking to speak of.
# Bounded (no phone number has more than 8 groups or 15 digits in one), so that
# a long run of digit groups costs each candidate a few steps, not its length.
_MORE_GROUPS = r"(?:(?:[ .-]\(?|\(|\)[ .-]?)[0-9]{1,15}){0,8}"
# Where a number may not start or end: inside a word or number, after '#'
# (order numbers), in a decimal, a version, a time, a date, a path.  Nor
# after another group of digits (inside an account number, a list of figures)
# unless it starts with '+': _claim checks that for cards too, as a number
# found just before does not count.
_BEFORE = r"(?<![\w+#.,/:-])"
_AFTER = r"(?![\w]|[.,/:-][0-9])"
_INTERNATIONAL = re.compile(_BEFORE + r"(?:\+ ?\(?|00\(?)[1-9][0-9]{0,14}" + _MORE_GROUPS + _AFTER)
_NATIONAL = re.compile(_BEFORE + r"\(?0[1-9][0-9]{0,14}" + _MORE_GROUPS + _AFTER)
_NANP = re.compile(
    _BEFORE
    + r"(?:1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
    + _AFTER
)
# A date (and maybe a time after it) that the national pattern would take:
# 01.02.2024 10.30.  Not 06.12.34.56.78, a French phone number.
_DATE = re.compile(r"\(?[0-9]{1,2}([./-])[0-9]{1,2}\1(?:[0-9]{4}|[0-9]{2})(?![./-][0-9])")
_SEPARATED = re.compile(r"[ ().-]")


def _phone_end(match: re.Match[str], grouped: int, bare: int, high: int) -> int:
    """End of the phone number at *match*, or -1: from *grouped* to *high* digits
    when written in groups, from *bare* when in one piece.

    Groups at the end that take the count past *high* are left out (a number
    written right after the phone number: "+44 20 7946 0958 1234 times").
    """
    candidate = match.group()
    if _DATE.match(candidate):
        return -1
    groups = _DIGITS.findall(candidate)
    count = sum(map(len, groups))
    if count <= high and "(" not in candidate:  # the common case
        low = grouped if len(groups) > 1 else bare
        return match.end() if count >= low else -1
    spans = list(_DIGITS.finditer(candidate))
    while count > high and len(spans) > 1:
        last = spans.pop()
        count -= last.end() - last.start()
    low = grouped if len(spans) > 1 or spans[0].start() > 1 else bare
    if not low <= count <= high:
        return -1
    end = spans[-1].end()
    if candidate.count("(", 0, end) > candidate.count(")", 0, end):
        end = candidate.find(")", end) + 1 or end  # keep "(0)" or "(415)" whole
    return match.start() + end


_NEVER = 99  # no phone number has this many digits


def _international_end(text: str, match: re.Match[str]) -> int:
    if match.group().startswith("00"):
        # "00" then the country: only in groups, unlike a zero-padded id.
        return _phone_end(match, 9, _NEVER, 17)
    return _phone_end(match, 7, 7, 15)


def _national_end(text: str, match: re.Match[str]) -> int:
    # Nine digits only when written in groups: "012 34 56 78", not "012345678".
    return _phone_end(match, 9, 10, 12)


def _nanp_end(text: str, match: re.Match[str]) -> int:
    return match.end()


# -- applying them ----------------------------------------------------------------------------

# A run of digits and the groups that follow it after one or two separator
# characters: every card, phone number and IBAN check-digit pair starts in
# one such cluster.  One scan finds them all (starting with a digit, so the
# scan skips other characters at C speed); the rules then look only there.
_CLUSTER = re.compile(r"[0-9]+(?:[ ().-]{1,2}[0-9]+)*")
# Fewer digits than this in a cluster: no phone number in it (nor a card).
_FEWEST_DIGITS = 7
_SEPARATORS = " ().-"
_SHORTEST_NUMBER = 8

Span = tuple[int, int, str]


def _free(spans: list[Span], start: int, end: int) -> bool:
    """Whether *start* to *end* overlaps none of *spans* (sorted, not overlapping)."""
    index = bisect.bisect_left(spans, (start,))
    if index < len(spans) and spans[index][0] < end:
        return False
    return index == 0 or spans[index - 1][1] <= start


def _after_digits(text: str, start: int, spans: list[Span]) -> bool:
    """Whether *start* follows a group of digits and one separator, where that group
    is not the end of a number found before (which would leave "[phone] 030...")."""
    if start < 2 or text[start - 1] not in " .-" or not "0" <= text[start - 2] <= "9":
        return False
    index = bisect.bisect_left(spans, (start - 1,)) - 1
    return index < 0 or spans[index][1] != start - 1


Rule = tuple[re.Pattern[str], Callable[[str, re.Match[str]], int], str]


def _claim(text: str, rules: list[Rule], window: tuple[int, int], spans: list[Span]) -> None:
    """Add to *spans* what *rules* find in *window*, from left to right.

    Each rule is a pattern for candidates, a check that returns the end of a
    confirmed one (else -1), and a marker.  Of the candidates of all rules,
    the leftmost is decided first (the earlier rule on a tie), so what is
    found does not hang on the order of the rules.  A candidate that is not
    confirmed is passed over by one character only, so that a number starting
    inside it is still found.  No number starts right after another group of
    digits, unless with '+' or right after a number found.
    """
    position, stop = window
    # Each rule's next candidate at or after position; None once it has no more.
    ahead: list[re.Match[str] | None] = [p.search(text, position, stop) for p, _, _ in rules]
    while True:
        best, match = -1, None
        for index, candidate in enumerate(ahead):
            if candidate is not None and (match is None or candidate.start() < match.start()):
                best, match = index, candidate
        if match is None:
            return
        pattern, end_of, marker = rules[best]
        start = match.start()
        end = -1
        if text[start] == "+" or not _after_digits(text, start, spans):
            end = end_of(text, match)
        if end < 0 or not _free(spans, start, end):
            ahead[best] = pattern.search(text, start + 1, stop)
            continue
        bisect.insort(spans, (start, end, marker))
        position = end
        for index, match in enumerate(ahead):
            if match is not None and match.start() < position:
                ahead[index] = rules[index][0].search(text, position, stop)


# The local part of an e-mail address, read backwards from its '@'.
_LOCAL_PART = re.compile(r"[\w.%+'-]+")


def _emails(text: str, spans: list[Span]) -> None:
    floor = 0  # no address starts before: an earlier one ended there, or an '@' is there
    at = text.find("@")
    while at >= 0:
        # Backwards, so that one C call finds where it starts.
        local = _LOCAL_PART.match(text[max(at - _LOCAL_MAX, floor) : at][::-1])
        if local is not None:
            start = at - local.end()
            while start < at and text[start] in ".'":
                start += 1
            match = _EMAIL.match(text, start, min(len(text), at + _DOMAIN_MAX))
            if match is not None:
                spans.append((match.start(), match.end(), EMAIL))
                floor = match.end()
                at = text.find("@", floor)
                continue
        floor = at + 1
        at = text.find("@", floor)


def _numbers(text: str, spans: list[Span]) -> None:
    for cluster in _CLUSTER.finditer(text):
        # A cluster may start inside an e-mail address or an IBAN found before and go
        # on after it: the rules take only what overlaps nothing found.
        start, end = cluster.span()
        if start >= 2 and text[start - 2 : start].isalpha():
            iban = _IBAN.match(text, start - 2)
            iban_end = -1 if iban is None else _iban_end(text, iban)
            if iban_end > 0 and _free(spans, start - 2, iban_end):
                bisect.insort(spans, (start - 2, iban_end, IBAN))
        found = cluster.group()
        digits = len(found) - sum(map(found.count, _SEPARATORS))
        if digits < _FEWEST_DIGITS:
            continue
        # From two characters before ('+', "+ ", '(') to two after (what may follow).
        window = (max(0, start - 2), min(len(text), end + 2))
        rules: list[Rule] = []
        if digits >= 13:
            rules.append((_CARD, _card_end, CARD))
        if "+" in text[window[0] : start] or "00" in found:
            rules.append((_INTERNATIONAL, _international_end, PHONE))
        if "0" in found:
            rules.append((_NATIONAL, _national_end, PHONE))
        if digits >= 10:
            rules.append((_NANP, _nanp_end, PHONE))
        if rules:
            _claim(text, rules, window, spans)


def pii(text: str) -> str:
    """*text* with e-mail addresses, IBANs, card numbers and phone numbers replaced.

    Each is replaced by its marker: ``[email]``, ``[iban]``, ``[card]``,
    ``[phone]``.  See the module's documentation for what each rule takes
    and leaves.

    Args:
        text: any text.

    Returns:
        The text with what the rules found replaced; *text* itself when they found nothing.
    """
    spans: list[Span] = []
    if "@" in text:
        _emails(text, spans)
    # The shortest number a rule takes has 8 characters ("+1234567"); short values
    # (metadata such as "gpt-4o") are common, and looking for clusters costs ~1 us.
    if len(text) >= _SHORTEST_NUMBER:
        for digit in "0123456789":  # a C-speed look for any digit: most text has none
            if digit in text:
                _numbers(text, spans)
                break
    if not spans:
        return text
    pieces: list[str] = []
    done = 0
    for start, end, marker in spans:
        pieces += (text[done:start], marker)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)
