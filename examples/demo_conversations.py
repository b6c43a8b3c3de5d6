"""The demo's conversations: an online shop's support bot, in five languages.

    python examples/demo_conversations.py [--count 4] [--seed 7]   # print a few

Shared by ``demo_history.py`` (the past 30 days, imported through the batch
API) and ``demo_bot.py`` (conversations happening now, tracked with the SDK).
A conversation is a script:

- **who**: a customer (some come back) from one of 14 countries, with the
  country's language (en, de, es, fr, pt-BR, pt-PT), a time zone of that
  country and a public IP address the collector's offline database places
  there;
- **where**: a channel the customer's country favours (web on a desktop or a
  phone, WhatsApp, Telegram, the iOS app, voice calls through the call
  button of the site or the app);
- **what**: one topic (order status, delivery address, return, billing,
  password reset, product question, cancelling Plus): the customer's question,
  the tool the agent runs for it (with its duration and response; now and
  then it fails), the agent's answer in the customer's language with the
  model's token usage, follow-ups, buttons, a rating, a hand-over to a human
  (``fallback_to_human``, ``open_ticket``, ``contact_human``: what the
  metrics count as escalations) and feedback;
- **when**: the pauses between its steps and, for history, a start drawn from
  a weekly rhythm in the customer's own time zone (weekdays busier than
  weekends; office hours on desktops, evenings on phones; the phone line open
  Monday to Friday 8:00-20:00 and Saturday 9:00-14:00; a little growth over
  the month).

Each step is one wire event (docs/wire-schema.md) without its id, seq and
timestamp, which whoever plays the script adds.  A script depends only on
the seed and its number, never on the clock: every run stores the same
conversations, messages, tools, escalations and feedback; only when they
happened moves with the day the demo runs.  The texts are in
``demo_texts.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import ipaddress
import itertools
import json
import math
import random
import time
import zoneinfo
from pathlib import Path
from typing import Any, Literal

TEXTS: dict[str, Any] = json.loads(
    (Path(__file__).with_name("demo_texts.json")).read_text(encoding="utf-8")
)
Sentiment = Literal["positive", "neutral", "negative"]
MODEL = "gpt-4o-mini"
SYSTEM_PROMPT_TOKENS = 820  # instructions and tool schemas, sent with every model call
POPULATION = 6000  # customers the conversations come from
ESCALATIONS = ("fallback_to_human", "open_ticket", "contact_human")


@dataclasses.dataclass(frozen=True)
class Country:
    language: str  # what the conversation's ``language`` says
    share: float  # of the customers
    zones: tuple[str, ...]  # one is drawn per customer (repeat a zone to weigh it)
    networks: tuple[str, ...]  # address blocks placed in this country by geoip2fast
    channels: str  # a key of CHANNELS
    money: tuple[str, float, int, str, str]  # pattern, units per USD, decimals, 1000s, point
    carriers: tuple[str, ...]
    addresses: tuple[str, ...]
    mail: tuple[str, ...]  # e-mail domains


#: (source, device, weight) per kind of market.
CHANNELS: dict[str, tuple[tuple[str, str | None, float], ...]] = {
    "web_first": (
        ("web", "desktop", 34),
        ("web", "mobile", 12),
        ("ios_app", "mobile", 22),
        ("whatsapp", "mobile", 12),
        ("telegram", "mobile", 3),
        ("telegram", "desktop", 1),
        ("voice_call", "mobile", 7),
        ("voice_call", "desktop", 5),
    ),
    "mixed": (
        ("web", "desktop", 30),
        ("web", "mobile", 10),
        ("ios_app", "mobile", 16),
        ("whatsapp", "mobile", 24),
        ("telegram", "mobile", 8),
        ("telegram", "desktop", 2),
        ("voice_call", "mobile", 6),
        ("voice_call", "desktop", 4),
    ),
    "messaging_first": (
        ("web", "desktop", 18),
        ("web", "mobile", 10),
        ("ios_app", "mobile", 10),
        ("whatsapp", "mobile", 44),
        ("telegram", "mobile", 7),
        ("telegram", "desktop", 1),
        ("voice_call", "mobile", 6),
        ("voice_call", "desktop", 2),
    ),
}
_EURO = ("{} €", 0.93, 2, ".", ",")
COUNTRIES: dict[str, Country] = {
    "US": Country(
        "en",
        15,
        ("America/New_York",) * 5 + ("America/Chicago",) * 3 + ("America/Los_Angeles",) * 2,
        ("73.0.0.0/13", "98.200.0.0/14", "71.176.0.0/12"),
        "web_first",
        ("${}", 1.0, 2, ",", "."),
        ("UPS", "USPS", "FedEx"),
        ("1200 Pine St, Seattle, WA 98101", "45 Maple Ave, Austin, TX 78701"),
        ("gmail.com", "yahoo.com", "outlook.com"),
    ),
    "GB": Country(
        "en",
        9,
        ("Europe/London",),
        ("86.136.0.0/13", "82.0.0.0/15", "2.24.0.0/13"),
        "web_first",
        ("£{}", 0.79, 2, ",", "."),
        ("Royal Mail", "DPD"),
        ("14 Albert Road, Manchester M14 5RU", "221 High Street, Bristol BS1 2AW"),
        ("gmail.com", "btinternet.com", "outlook.com"),
    ),
    "IE": Country(
        "en",
        2,
        ("Europe/Dublin",),
        ("86.44.0.0/14",),
        "web_first",
        ("€{}", 0.93, 2, ",", "."),
        ("An Post", "DPD"),
        ("12 Grafton Street, Dublin 2",),
        ("gmail.com", "eircom.net"),
    ),
    "AU": Country(
        "en",
        3,
        ("Australia/Sydney",) * 3 + ("Australia/Perth",),
        ("1.128.0.0/11", "1.40.0.0/14"),
        "web_first",
        ("A${}", 1.52, 2, ",", "."),
        ("Australia Post",),
        ("18 George St, Sydney NSW 2000",),
        ("gmail.com", "bigpond.com"),
    ),
    "IN": Country(
        "en",
        4,
        ("Asia/Kolkata",),
        ("49.32.0.0/12", "117.200.0.0/14"),
        "messaging_first",
        ("₹{}", 84.0, 0, ",", "."),
        ("Delhivery", "Blue Dart"),
        ("14 MG Road, Bengaluru 560001",),
        ("gmail.com", "yahoo.co.in"),
    ),
    "DE": Country(
        "de",
        14,
        ("Europe/Berlin",),
        ("79.192.0.0/10", "91.32.0.0/12"),
        "mixed",
        _EURO,
        ("DHL", "Hermes"),
        ("Lindenstraße 12, 10969 Berlin", "Sendlinger Straße 7, 80331 München"),
        ("web.de", "gmx.de", "t-online.de"),
    ),
    "AT": Country(
        "de",
        3,
        ("Europe/Vienna",),
        ("62.46.0.0/15", "178.188.0.0/14"),
        "mixed",
        _EURO,
        ("Österreichische Post",),
        ("Mariahilfer Straße 45, 1060 Wien",),
        ("gmx.at", "aon.at"),
    ),
    "ES": Country(
        "es",
        8,
        ("Europe/Madrid",),
        ("2.136.0.0/13", "83.48.0.0/12"),
        "messaging_first",
        _EURO,
        ("Correos", "SEUR"),
        ("Calle de Alcalá 120, 28009 Madrid", "Carrer de Mallorca 210, 08008 Barcelona"),
        ("gmail.com", "hotmail.es"),
    ),
    "MX": Country(
        "es",
        6,
        ("America/Mexico_City",),
        ("187.128.0.0/11",),
        "messaging_first",
        ("MX${}", 17.2, 2, ",", "."),
        ("Estafeta", "DHL"),
        ("Av. Insurgentes Sur 1602, 03940 Ciudad de México",),
        ("gmail.com", "hotmail.com"),
    ),
    "AR": Country(
        "es",
        3,
        ("America/Argentina/Buenos_Aires",),
        ("152.168.0.0/15", "181.44.0.0/14"),
        "messaging_first",
        ("ARS {}", 1000.0, 0, ".", ","),
        ("Andreani", "Correo Argentino"),
        ("Av. Corrientes 1234, C1043 Buenos Aires",),
        ("gmail.com", "hotmail.com.ar"),
    ),
    "FR": Country(
        "fr",
        10,
        ("Europe/Paris",),
        ("86.192.0.0/10",),
        "mixed",
        ("{} €", 0.93, 2, " ", ","),
        ("Colissimo", "Chronopost"),
        ("12 rue de la Roquette, 75011 Paris", "8 cours Lafayette, 69003 Lyon"),
        ("orange.fr", "free.fr", "gmail.com"),
    ),
    "BE": Country(
        "fr",
        3,
        ("Europe/Brussels",),
        ("81.240.0.0/13",),
        "mixed",
        ("{} €", 0.93, 2, " ", ","),
        ("bpost",),
        ("Rue Neuve 30, 1000 Bruxelles",),
        ("skynet.be", "gmail.com"),
    ),
    "BR": Country(
        "pt-BR",
        12,
        ("America/Sao_Paulo",),
        ("189.10.0.0/15", "177.0.0.0/13"),
        "messaging_first",
        ("R$ {}", 5.8, 2, ".", ","),
        ("Correios", "Loggi"),
        ("Rua Augusta 1500, São Paulo - SP", "Av. Atlântica 2000, Rio de Janeiro - RJ"),
        ("gmail.com", "uol.com.br"),
    ),
    "PT": Country(
        "pt-PT",
        3,
        ("Europe/Lisbon",),
        ("2.80.0.0/14", "85.240.0.0/13"),
        "messaging_first",
        _EURO,
        ("CTT",),
        ("Rua Augusta 100, 1100-053 Lisboa",),
        ("sapo.pt", "gmail.com"),
    ),
}

#: Per topic: its share and the tools that may run in it.
TOPICS: dict[str, tuple[float, tuple[str, ...]]] = {
    "order_status": (30, ("order_lookup", "add_delivery_note")),
    "address_change": (9, ("update_address",)),
    "return": (14, ("create_return", "kb_search", "open_ticket")),
    "billing": (11, ("billing_lookup", "refund_payment", "send_invoice")),
    "password_reset": (13, ("reset_password",)),
    "product_question": (15, ("kb_search", "check_stock")),
    "cancel_subscription": (8, ("subscription_lookup", "cancel_subscription")),
}
#: Per tool: median duration (ms), share of calls that fail, the service behind it.
TOOLS: dict[str, tuple[float, float, str]] = {
    "order_lookup": (220, 0.03, "order service"),
    "add_delivery_note": (180, 0.01, "order service"),
    "update_address": (420, 0.03, "order service"),
    "create_return": (650, 0.025, "order service"),
    "open_ticket": (350, 0.0, "helpdesk"),
    "billing_lookup": (380, 0.03, "payments API"),
    "refund_payment": (900, 0.02, "payments API"),
    "send_invoice": (520, 0.01, "billing service"),
    "reset_password": (300, 0.015, "identity service"),
    "kb_search": (160, 0.01, "search index"),
    "check_stock": (140, 0.01, "inventory service"),
    "subscription_lookup": (260, 0.01, "billing service"),
    "cancel_subscription": (480, 0.02, "billing service"),
}

# The weekly rhythm, in the customer's local time: relative weight of each
# hour (0-23) by kind of channel, and of each weekday (Monday first).
_DESK_WEEKDAY: tuple[float, ...] = (0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.4, 1.2, 2.6, 3.6, 3.9, 3.7)
_DESK_WEEKDAY += (2.8, 3.0, 3.6, 3.5, 3.1, 2.4, 1.7, 1.4, 1.3, 1.1, 0.8, 0.5)
_DESK_WEEKEND: tuple[float, ...] = (0.4, 0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.4, 1.6)
_DESK_WEEKEND += (1.5, 1.4, 1.4, 1.4, 1.4, 1.4, 1.5, 1.6, 1.6, 1.4, 1.0, 0.6)
_MOBILE_WEEKDAY: tuple[float, ...] = (0.9, 0.5, 0.25, 0.15, 0.1, 0.2, 0.6, 1.5, 2.0, 1.8, 1.7, 1.8)
_MOBILE_WEEKDAY += (2.4, 2.1, 1.7, 1.7, 1.9, 2.4, 2.9, 3.3, 3.6, 3.3, 2.4, 1.5)
_MOBILE_WEEKEND: tuple[float, ...] = (1.2, 0.7, 0.35, 0.2, 0.1, 0.15, 0.3, 0.6, 1.2, 1.9, 2.5, 2.8)
_MOBILE_WEEKEND += (2.8, 2.6, 2.5, 2.5, 2.6, 2.8, 3.0, 3.3, 3.4, 3.1, 2.4, 1.6)
_PHONE_WEEKDAY: tuple[float, ...] = (0.0,) * 8 + (
    1.5,
    3.0,
    3.6,
    3.4,
    2.4,
    2.6,
    3.2,
    3.1,
    2.8,
    2.2,
    1.4,
    0.9,
)
_PHONE_WEEKDAY += (0.0,) * 4  # the line is open 8:00-20:00
_PHONE_SATURDAY = (0.0,) * 9 + (1.2, 1.6, 1.6, 1.3, 0.8) + (0.0,) * 10  # 9:00-14:00
HOURS: dict[str, tuple[tuple[float, ...], ...]] = {
    "desk": (_DESK_WEEKDAY,) * 5 + (_DESK_WEEKEND,) * 2,
    "mobile": (_MOBILE_WEEKDAY,) * 5 + (_MOBILE_WEEKEND,) * 2,
    "phone": (_PHONE_WEEKDAY,) * 5 + (_PHONE_SATURDAY, (0.0,) * 24),
}
WEEKDAYS = (1.18, 1.08, 1.04, 1.0, 0.95, 0.72, 0.68)
GROWTH = 0.3  # the last day of the month has this much more traffic than the first


@dataclasses.dataclass(frozen=True)
class Customer:
    customer_id: str
    country: str
    language: str
    zone: str
    ip: str
    email: str
    channel: tuple[str, str | None]  # the source and device they usually write from


@dataclasses.dataclass(frozen=True)
class Step:
    """One wire event of a script: its kind, seconds after the previous step, its fields."""

    kind: str
    after: float
    fields: dict[str, Any]


@dataclasses.dataclass
class Script:
    """One conversation, ready to be played (tracked live) or written (as wire events)."""

    conversation_id: str
    customer: Customer
    source: str
    device: str | None
    topic: str | None  # None: the chat was only shown, nobody wrote
    steps: list[Step]
    start: float  # seconds since the epoch of the first step
    feedback: tuple[Sentiment, str | None] | None = None  # (sentiment, comment)
    escalated: bool = False
    state: Any = dataclasses.field(default=None, repr=False)  # the random state of its steps

    @property
    def duration(self) -> float:
        return sum(step.after for step in self.steps)


def text(key: str, language: str) -> Any:
    """The text (or list of variants) *key* ("topic.name") in *language* (en, pt-BR...)."""
    topic, name = key.split(".")
    return TEXTS[topic][name][language.split("-")[0]]


@functools.lru_cache(maxsize=8)
def customers(seed: int, count: int = POPULATION) -> tuple[Customer, ...]:
    """The shop's customers: each with a country, language, time zone, address and channel."""
    rng = random.Random(f"{seed}/customers")
    codes = list(COUNTRIES)
    shares = [COUNTRIES[code].share for code in codes]
    out = []
    for n in range(count):
        code = rng.choices(codes, shares)[0]
        country = COUNTRIES[code]
        network = ipaddress.ip_network(rng.choice(country.networks))
        host = network[rng.randrange(1, network.num_addresses - 1)]
        channels = CHANNELS[country.channels]
        source, device, _ = rng.choices(channels, [c[2] for c in channels])[0]
        out.append(
            Customer(
                customer_id=f"cust-{n:05d}",
                country=code,
                language=country.language,
                zone=rng.choice(country.zones),
                ip=str(host),
                email=f"{rng.choice('abcdefghijklmnoprstvw')}***@{rng.choice(country.mail)}",
                channel=(source, device),
            )
        )
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _loyalty(count: int) -> list[float]:
    """Cumulative weights of choosing each customer: a few come back often."""
    return list(itertools.accumulate(1 / (1 + n / 150) ** 0.8 for n in range(count)))


def _kind(source: str, device: str | None) -> str:
    if source == "voice_call":
        return "phone"
    return "desk" if device == "desktop" else "mobile"


@functools.lru_cache(maxsize=1024)
def _calendar(zone: str, kind: str, today: dt.date, days: int) -> tuple[list[dt.date], list[float]]:
    """The local dates of the window, weighed by weekday, channel hours and growth."""
    dates = [today - dt.timedelta(days=back) for back in range(days + 1)]
    weights = [
        WEEKDAYS[day.weekday()]
        * sum(HOURS[kind][day.weekday()])
        * (1 + GROWTH * (days - back) / days)
        for back, day in enumerate(dates)
    ]
    return dates, weights


def start_time(rng: random.Random, script: Script, now: float, days: int) -> float:
    """When *script* started: a moment of the last *days* days, by the weekly rhythm
    in the customer's time zone, ending before *now*."""
    zone = zoneinfo.ZoneInfo(script.customer.zone)
    kind = _kind(script.source, script.device)
    today = dt.datetime.fromtimestamp(now, zone).date()
    dates, weights = _calendar(script.customer.zone, kind, today, days)
    earliest, latest = now - days * 86_400, now - script.duration - 60
    while True:
        day = rng.choices(dates, weights)[0]
        hour = rng.choices(range(24), HOURS[kind][day.weekday()])[0]
        local = dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        moment = local.timestamp() + rng.uniform(0, 3600)
        if earliest <= moment <= latest:
            return moment


def history(seed: int, count: int, days: int, now: float) -> list[Script]:
    """*count* conversations of the *days* days before *now*."""
    scripts = []
    for n in range(count):
        script = _script(seed, "history", n)
        script.start = start_time(random.Random(f"{seed}/history/{n}/time"), script, now, days)
        _write(script, "history")
        scripts.append(script)
    return scripts


def live(seed: int, count: int, now: float) -> list[Script]:
    """*count* conversations starting now (their start is *now*)."""
    scripts = []
    for n in range(count):
        script = _script(seed, "live", n)
        script.start = now
        _write(script, "live")
        scripts.append(script)
    return scripts


def _script(seed: int, label: str, n: int) -> Script:
    """Who, where and what: the customer, channel and topic of conversation *n*.

    Its steps are written once to learn how long it lasts (for its start
    time), then again by ``_write`` from the same random state, once the
    local day is known (for the weekday names in the answers).
    """
    rng = random.Random(f"{seed}/{label}/{n}")
    population = customers(seed)
    customer = rng.choices(population, cum_weights=_loyalty(len(population)))[0]
    source, device = customer.channel
    if rng.random() < 0.25:  # not their usual channel this time
        channels = CHANNELS[COUNTRIES[customer.country].channels]
        source, device, _ = rng.choices(channels, [c[2] for c in channels])[0]
    topics = list(TOPICS)
    topic = rng.choices(topics, [TOPICS[t][0] for t in topics])[0]
    script = Script(f"{label}-{n:05d}", customer, source, device, topic, [], 0.0)
    script.state = rng.getstate()
    _Writer(script, rng, dt.date(2000, 1, 3), label).play()
    return script


def _write(script: Script, label: str) -> None:
    """The steps of *script*, now that its local start date is known."""
    rng = random.Random()
    rng.setstate(script.state)
    local = dt.datetime.fromtimestamp(script.start, zoneinfo.ZoneInfo(script.customer.zone))
    _Writer(script, rng, local.date(), label).play()


def _tokens(words: str) -> int:
    return max(1, round(len(words) / 3.8))


class _Writer:
    """Writes the steps of one script with its random generator."""

    def __init__(self, script: Script, rng: random.Random, day: dt.date, label: str) -> None:
        self.script, self.rng, self.day, self.label = script, rng, day, label
        self.customer = script.customer
        self.language = self.customer.language
        self.voice = script.source == "voice_call"
        self.country = COUNTRIES[self.customer.country]
        self.context = 0  # tokens of the conversation so far, sent with each model call
        self.failed = False
        self.rated_down = False

    # -- the building blocks ---------------------------------------------------------------

    def say(self, key: str, **values: Any) -> str:
        """The text *key* in the customer's language (a variant drawn when there are several)."""
        found = text(key, self.language)
        if isinstance(found, list):
            found = self.rng.choice(found)
        return str(found).format(**values)

    def step(self, kind: str, after: float, **fields: Any) -> None:
        self.script.steps.append(Step(kind, round(after, 3), fields))

    def attributes(self, is_used: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {"demo": self.label}
        if self.script.topic and is_used:
            metadata["topic"] = self.script.topic
        if self.script.source == "ios_app":
            metadata["app_version"] = "4.12.0"
        return {
            "customer_id": self.customer.customer_id,
            "customer_ip_address": self.customer.ip,
            "device": self.script.device,
            "source": self.script.source,
            "language": self.language,
            "name": self.say(f"{self.script.topic}.title") if is_used else None,
            "environment": "production",
            "metadata": metadata,
            "is_used": is_used,
        }

    def user(self, words: str, first: bool = False) -> None:
        if self.voice:
            after = self.rng.uniform(1.5, 5)
        else:
            after = self.rng.uniform(4, 25) if first else self.rng.uniform(8, 60)
        self.step("message", after, sender="end_user", content=words, metadata=None)
        self.context += _tokens(words)

    def agent(self, words: str, embedding_tokens: int = 0) -> None:
        after = self.rng.lognormvariate(math.log(1.4), 0.35)  # the model's latency
        prompt = SYSTEM_PROMPT_TOKENS + self.context + self.rng.randint(0, 60)
        completion = _tokens(words) + self.rng.randint(4, 18)
        self.step("message", after, sender="agent", content=words, metadata={"model": MODEL})
        self.step(
            "token_usage",
            0.001,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            embedding_tokens=embedding_tokens,
            model=MODEL,
            provider="openai",
            duration_ms=round(after * 1000, 1),
        )
        self.context += _tokens(words)

    def action(self, name: str, response: dict[str, Any] | None, error: str | None = None) -> None:
        median, _, _ = TOOLS[name]
        if error and error.startswith("TimeoutError"):
            duration = 5000.0
        elif error:
            duration = self.rng.uniform(20, 60)
        else:
            duration = min(self.rng.lognormvariate(math.log(median), 0.45), 20_000)
        answer = json.dumps(response, ensure_ascii=False) if response is not None else None
        self.step(
            "action",
            self.rng.uniform(0.2, 0.6) + duration / 1000,
            action_name=name,
            duration_ms=round(duration, 1),
            tools_used={"name": name, "version": "2"},
            response=answer,
            error_msg=error,
            metadata=None,
        )
        self.context += _tokens(answer or "")

    def call(self, tool: str, response: dict[str, Any]) -> bool:
        """Run *tool*; when it fails the agent retries once, or hands over (False)."""
        _, error_rate, service = TOOLS[tool]
        if self.rng.random() < error_rate:
            error = self.rng.choice(
                [
                    f"TimeoutError: the {service} did not answer within 5 s",
                    f"HTTP 503 from the {service}",
                ]
            )
            self.action(tool, None, error)
            if self.rng.random() < 0.5:  # the retry works
                self.action(tool, response)
                return True
            self.failed = True
            self.handover("fallback_to_human", f"{tool} failed", "common.systems_down")
            return False
        self.action(tool, response)
        return True

    def handover(self, action: str, reason: str, key: str | None = None) -> None:
        """Hand the conversation to a person (an escalation), and say so."""
        self.step(
            "action",
            self.rng.uniform(0.2, 0.6),
            action_name=action,
            duration_ms=None,
            tools_used=None,
            response=None,
            error_msg=None,
            metadata={"reason": reason},
        )
        self.script.escalated = True
        self.agent(self.say(key or ("common.handover_voice" if self.voice else "common.handover")))

    def button(self, event: str, label: str, value: str) -> None:
        if not self.voice:  # nothing to press on a phone call
            self.step(
                "button", self.rng.uniform(3, 20), button_event=event, label=label, value=value
            )

    def close(self) -> None:
        """Thanks, and now and then a rating."""
        if self.rng.random() < 0.5:
            self.user(self.say("common.thanks"))
            self.agent(self.say("common.welcome"))
        if not self.voice and self.rng.random() < 0.2:
            good = self.rng.random() < 0.85
            self.rated_down = not good
            self.button("rate_answer", "👍" if good else "👎", "up" if good else "down")

    def order(self) -> str:
        return f"#{self.rng.randint(100_000, 999_999)}"

    def tracking(self, carrier: str) -> str:
        letters = "".join(c for c in carrier.upper() if c.isalpha())[:2]
        return f"{letters}{self.rng.randrange(10**10):010d}"

    def money(self, usd: float) -> str:
        pattern, rate, decimals, thousands, point = self.country.money
        amount = usd * rate
        amount = round(amount) - 0.1 if decimals else round(amount, -2 if rate > 500 else -1)
        whole, _, cents = f"{amount:,.{decimals}f}".partition(".")
        number = whole.replace(",", thousands) + (point + cents if decimals else "")
        return pattern.format(number)

    def weekday(self, days_ahead: int) -> tuple[str, dt.date]:
        day = self.day + dt.timedelta(days=days_ahead)
        if day.weekday() == 6:  # no deliveries on Sundays
            day += dt.timedelta(days=1)
        names: list[str] = TEXTS["weekdays"][self.language.split("-")[0]]
        return names[day.weekday()], day

    # -- the script ------------------------------------------------------------------------

    def play(self) -> None:
        script, rng = self.script, self.rng
        script.steps, script.feedback, script.escalated = [], None, False
        shown = script.source in ("web", "ios_app") and rng.random() < 0.45
        if shown and rng.random() < 0.3:  # the chat was offered, nobody wrote
            script.topic = None
            self.step("interaction", 0.0, **self.attributes(False))
            return
        if shown:
            self.step("interaction", 0.0, **self.attributes(False))
        self.step("conversation", rng.uniform(5, 90) if shown else 0.0, **self.attributes(True))
        getattr(self, f"_{script.topic}")()
        self.feedback()

    def feedback(self) -> None:
        if self.rng.random() >= 0.14:
            return
        if self.script.escalated or self.failed:
            weights = (2.0, 3.0, 5.0)
        elif self.rated_down:
            weights = (0.0, 2.0, 8.0)
        else:
            weights = (8.0, 1.5, 0.5)
        sentiments: tuple[Sentiment, ...] = ("positive", "neutral", "negative")
        sentiment = self.rng.choices(sentiments, weights)[0]
        comment = self.say(f"feedback.{sentiment}") if self.rng.random() < 0.6 else None
        self.script.feedback = (sentiment, comment)

    def _order_status(self) -> None:
        rng, order = self.rng, self.order()
        carrier = rng.choice(self.country.carriers)
        tracking = self.tracking(carrier)
        self.user(self.say("order_status.ask", order=order), first=True)
        moving = rng.random() < 0.8
        day, date = self.weekday(rng.randint(1, 4))
        response = {
            "order": order,
            "status": "in_transit" if moving else "packing",
            "carrier": carrier,
            "tracking": tracking if moving else None,
            "eta": date.isoformat(),
        }
        if not self.call("order_lookup", response):
            return
        if moving:
            self.agent(
                self.say(
                    "order_status.in_transit",
                    order=order,
                    carrier=carrier,
                    day=day,
                    tracking=tracking,
                )
            )
            if rng.random() < 0.35:
                self.button("track_parcel", self.say("order_status.track_button"), tracking)
        else:
            self.agent(self.say("order_status.packing", order=order, carrier=carrier))
        if rng.random() < 0.3:
            self.user(self.say("order_status.neighbour"))
            if not self.call("add_delivery_note", {"order": order, "note": "neighbour_ok"}):
                return
            self.agent(self.say("order_status.neighbour_done", carrier=carrier))
        self.close()

    def _address_change(self) -> None:
        rng, order = self.rng, self.order()
        self.user(self.say("address_change.ask", order=order), first=True)
        self.agent(self.say("address_change.which"))
        address = rng.choice(self.country.addresses)
        self.user(address)
        shipped = rng.random() < 0.25
        response: dict[str, Any] = {"order": order, "updated": not shipped}
        if shipped:
            response["reason"] = "already_shipped"
        if not self.call("update_address", response):
            return
        if not shipped:
            self.agent(self.say("address_change.done", order=order, address=address))
            self.close()
            return
        carrier = rng.choice(self.country.carriers)
        tracking = self.tracking(carrier)
        self.agent(
            self.say("address_change.shipped", order=order, carrier=carrier, tracking=tracking)
        )
        if rng.random() < 0.4:
            self.user(self.say("common.human_please"))
            self.handover("fallback_to_human", "customer asked for a person")
            return
        self.close()

    def _return(self) -> None:
        rng, order = self.rng, self.order()
        if rng.random() < 0.15:
            self.user(self.say("return.damaged", order=order), first=True)
            ticket = f"T-{rng.randint(100_000, 999_999)}"
            self.action("open_ticket", {"ticket": ticket, "queue": "damaged_goods"})
            self.script.escalated = True
            self.agent(self.say("return.ticket", ticket=ticket))
            return
        self.user(self.say("return.ask", order=order), first=True)
        rma, amount = f"R-{rng.randint(10_000, 99_999)}", self.money(rng.choice(PRICES))
        if not self.call("create_return", {"order": order, "rma": rma, "refund": amount}):
            return
        self.agent(self.say("return.created", rma=rma, amount=amount))
        if rng.random() < 0.4:
            self.button("download_label", self.say("return.label_button"), rma)
        if rng.random() < 0.35:
            question = self.say("return.cost")
            self.user(question)
            embedded = _tokens(question)
            if not self.call("kb_search", {"query": question, "hits": 2, "top": "returns-policy"}):
                return
            self.agent(self.say("return.free"), embedding_tokens=embedded)
        self.close()

    def _billing(self) -> None:
        rng, order = self.rng, self.order()
        if rng.random() < 0.4:
            self.user(self.say("billing.ask_invoice", order=order), first=True)
            email = self.customer.email
            if not self.call("send_invoice", {"order": order, "sent_to": email}):
                return
            self.agent(self.say("billing.invoice_sent", order=order, email=email))
            self.close()
            return
        self.user(self.say("billing.ask_twice", order=order), first=True)
        amount = self.money(rng.choice(PRICES))
        duplicate = rng.random() < 0.45
        second = "captured" if duplicate else "authorised"
        charges = [{"amount": amount, "status": "captured"}, {"amount": amount, "status": second}]
        if not self.call("billing_lookup", {"order": order, "charges": charges}):
            return
        if duplicate:
            if not self.call("refund_payment", {"order": order, "refund": amount, "status": "ok"}):
                return
            self.agent(self.say("billing.refunded", amount=amount))
            self.close()
            return
        self.agent(self.say("billing.pending", amount=amount))
        if rng.random() < 0.3:
            self.user(self.say("common.human_please"))
            self.handover("fallback_to_human", "customer asked for a person")
            return
        self.close()

    def _password_reset(self) -> None:
        email = self.customer.email
        self.user(self.say("password_reset.ask"), first=True)
        if not self.call("reset_password", {"sent_to": email, "expires_in_min": 30}):
            return
        self.agent(self.say("password_reset.sent", email=email))
        if self.rng.random() < 0.25:
            self.user(self.say("password_reset.not_arrived"))
            if not self.call("reset_password", {"sent_to": email, "expires_in_min": 30}):
                return
            self.agent(self.say("password_reset.sent_again"))
        self.close()

    def _product_question(self) -> None:
        rng = self.rng
        product = rng.choice(("jacket", "boots", "headphones"))
        question = self.say(f"product_question.{product}_ask")
        self.user(question, first=True)
        hits = {"query": question, "hits": rng.randint(2, 6), "top": f"{product}-specs"}
        if not self.call("kb_search", hits):
            return
        self.agent(
            self.say(f"product_question.{product}_answer"), embedding_tokens=_tokens(question)
        )
        if rng.random() < 0.3:
            self.user(self.say(f"product_question.{product}_stock"))
            if not self.call("check_stock", {"sku": f"{product}-01", "in_stock": True}):
                return
            self.agent(self.say(f"product_question.{product}_in_stock"))
        self.close()

    def _cancel_subscription(self) -> None:
        rng = self.rng
        self.user(self.say("cancel_subscription.ask"), first=True)
        if not self.call("subscription_lookup", {"plan": "plus", "status": "active"}):
            return
        self.agent(self.say("cancel_subscription.offer"))
        keep = rng.random() < 0.25
        if self.voice:
            self.user(self.say(f"cancel_subscription.{'keep' if keep else 'confirm'}_said"))
        else:
            label = self.say(f"cancel_subscription.{'keep' if keep else 'confirm'}_button")
            self.button("cancel_plus", label, "keep" if keep else "confirm")
        if keep:
            self.agent(self.say("cancel_subscription.kept"))
            self.close()
            return
        if not self.call("cancel_subscription", {"plan": "plus", "status": "cancelled"}):
            return
        self.agent(self.say("cancel_subscription.cancelled"))
        if rng.random() < 0.2:
            self.user(self.say("cancel_subscription.refund"))
            self.handover("contact_human", "refund request", "cancel_subscription.refund_handover")
            return
        self.close()


PRICES = (19.9, 29.9, 39.9, 49.9, 59.9, 79.9, 89.9, 119.0, 149.0)


def transcript(script: Script, zone: str | None = None) -> list[str]:
    """*script* as lines of text (local times of the customer unless *zone*)."""
    tz = zoneinfo.ZoneInfo(zone or script.customer.zone)
    at, lines = script.start, []
    for step in script.steps:
        at += step.after
        clock = dt.datetime.fromtimestamp(at, tz).strftime("%a %H:%M:%S")
        f = step.fields
        if step.kind == "message":
            who = "user " if f["sender"] == "end_user" else "agent"
            lines.append(f"{clock} {who}  {f['content']}")
        elif step.kind == "action":
            outcome = f"failed: {f['error_msg']}" if f["error_msg"] else f"{f['duration_ms']} ms"
            if f["duration_ms"] is None:
                outcome = f"hand-over ({f['metadata']['reason']})"
            lines.append(f"{clock} action {f['action_name']} ({outcome})")
        elif step.kind == "button":
            lines.append(f"{clock} button {f['label']} ({f['button_event']}={f['value']})")
        elif step.kind in ("conversation", "interaction"):
            lines.append(f"{clock} {step.kind} {f['name'] or '(chat shown)'}")
    return lines


def main(count: int, seed: int, now: float) -> None:
    """Print *count* scripts of the history, as the customers lived them."""
    scripts: list[Script] = history(seed, max(count, 1) * 3, 30, now)
    shown = 0
    for script in scripts:
        if shown == count or script.topic is None:
            continue
        c = script.customer
        where = f"{script.source}/{script.device}, {c.language}"
        print(f"{script.conversation_id}: {c.customer_id} in {c.country} ({c.zone}), {where}")
        for line in transcript(script):
            print("  " + line)
        if script.feedback:
            print(f"  feedback: {script.feedback[0]} {script.feedback[1] or ''}".rstrip())
        print()
        shown += 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Print a few of the demo's conversations.")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    main(args.count, args.seed, time.time())
