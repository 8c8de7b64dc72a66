"""Email campaigns and ESP events (sends, Apple MPP machine opens, clicks, opt-outs).

Consent rules used for ``ground_truth/people.has_consent``: a person's consent events
are the ledger rows, the shop account's ``accepts_marketing`` (a choice made at
``customers.created_at``) and unsubscribe events; the latest one wins. A bounce or a
spam complaint suppresses the address for good. Sends only go to people who are opted
in at send time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mailroom.contract import EMAIL_EVENT_TYPES
from mailroom.simulator import constants as k
from mailroom.simulator.commerce import future_times
from mailroom.simulator.context import Campaigns, Context, DefectLog
from mailroom.simulator.output import prefixed
from mailroom.simulator.people import NONE, People
from mailroom.simulator.timefmt import DAY, HOUR, iso_utc, month_of

EVENTS = EMAIL_EVENT_TYPES
E = {name: i for i, name in enumerate(EVENTS)}
APPLE_PROXY_AGENT = (
    "Mozilla/5.0 (Apple Mail Privacy Protection proxy; AppleMailProxy/1.0)"
)
HUMAN_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/17.4",
    "Microsoft Outlook 16.0",
)
TERMINATIONS = ("none", "unsubscribe", "bounce", "spam_complaint")
_CATEGORY_TITLES = {
    "running": ("New running gear", "Run further this week"),
    "yoga": ("Yoga essentials", "Find your flow"),
    "hiking": ("Trail-ready picks", "Into the mountains"),
    "fitness_apparel": ("Train in style", "Fresh gym wear"),
    "accessories": ("Small things, big difference", "Gear up"),
}


def build_campaigns(
    ctx_start: int, as_of: int, categories: tuple[str, ...], rng: np.random.Generator
) -> Campaigns:
    """Roughly weekly campaigns over the history window (plus seasonal themes)."""
    weeks = max((as_of - ctx_start) // (7 * DAY), 1)
    sent_at = ctx_start + np.arange(weeks) * 7 * DAY + 2 * DAY + 8 * HOUR
    sent_at = sent_at + rng.integers(0, 2 * HOUR, weeks)
    sent_at = sent_at[sent_at < as_of]
    n = sent_at.size
    category = np.where(rng.random(n) < 0.5, -1, rng.integers(0, len(categories), n))
    month = month_of(sent_at)
    rows = []
    ids = np.array([f"cmp-{i + 1:04d}" for i in range(n)], dtype=object)
    for i in range(n):
        cat = int(category[i])
        if month[i] == 11:
            name, subject = "Black Friday", "Black Friday: up to 40% off"
        elif month[i] == 12:
            name, subject = "Holiday gift guide", "Gifts for every athlete"
        elif month[i] == 1:
            name, subject = "January sale", "The January sale is on"
        elif cat >= 0:
            title = _CATEGORY_TITLES[categories[cat]]
            name, subject = title[0], f"{title[1]}, {{first_name}}"
        else:
            name, subject = "Weekly picks", "This week's picks for you"
        rows.append(
            {
                "campaign_id": ids[i],
                "name": f"{name} {i + 1}",
                "sent_at": iso_utc(sent_at[i : i + 1])[0].as_py(),
                "subject": subject,
                "channel": "email",
            }
        )
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                (c, pa.string())
                for c in ("campaign_id", "name", "sent_at", "subject", "channel")
            ]
        ),
    )
    return Campaigns(table=table, ids=ids, sent_at=sent_at, category=category)


def make_email_events(
    ctx: Context,
    rng: np.random.Generator,
    people: People,
    log: DefectLog,
    event_base: int,
    send_base: int,
) -> tuple[pa.Table, np.ndarray, np.ndarray, int]:
    """Email events of the chunk, each row's person, ``has_consent``, and send count."""
    camp = ctx.campaigns
    subs = np.flatnonzero(people.sub_start != NONE)
    c_at = camp.sent_at[None, :]
    active = (c_at >= people.sub_start[subs, None]) & (
        c_at < people.sub_end[subs, None]
    )
    match = camp.category[None, :] == people.category[subs, None]
    rate = np.where(match, k.CAMPAIGN_CATEGORY_MATCH_RATE, k.CAMPAIGN_AUDIENCE_RATE)
    sends = active & (rng.random(active.shape) < rate)
    count = sends.sum(axis=1)
    t_p = np.array(
        [
            1 - k.UNSUBSCRIBE_RATE - k.BOUNCE_RATE - k.SPAM_COMPLAINT_RATE,
            k.UNSUBSCRIBE_RATE,
            k.BOUNCE_RATE,
            k.SPAM_COMPLAINT_RATE,
        ]
    )
    term = rng.choice(4, size=subs.size, p=t_p)
    term[count == 0] = 0
    last = (rng.random(subs.size) * count).astype(np.int64)
    rank = np.cumsum(sends, axis=1) - 1
    sends &= (term[:, None] == 0) | (rank <= last[:, None])
    row, col = np.nonzero(sends)
    person = subs[row]
    ending = (term[row] != 0) & (rank[row, col] == last[row])
    kind = np.where(ending, term[row], 0)
    s = person.size

    sent = camp.sent_at[col] + rng.integers(0, 1800, s)
    bounced = kind == 2
    delivered = sent + rng.integers(1, 30, s)
    machine = (
        ~bounced & people.apple_mail[person] & (rng.random(s) < k.MACHINE_OPEN_RATE)
    )
    m_open = delivered + rng.integers(1, 30, s)
    human = ~bounced & (
        (rng.random(s) < people.engagement[person]) | (kind == 1) | (kind == 3)
    )
    h_open = delivered + np.minimum(
        rng.lognormal(np.log(2 * HOUR), 1.2, s), 5 * DAY
    ).astype(np.int64)
    click = human & (rng.random(s) < k.CLICK_RATE)
    click_at = h_open + rng.integers(5, 600, s)
    unsub_at = h_open + rng.integers(10, 300, s)
    complaint_at = delivered + rng.integers(60, DAY, s)

    parts = [
        (np.ones(s, bool), sent, E["sent"]),
        (~bounced, delivered, E["delivered"]),
        (bounced, delivered + 30, E["bounce"]),
        (machine, m_open, E["open"]),
        (human, h_open, E["open"]),
        (click, click_at, E["click"]),
        (kind == 1, unsub_at, E["unsubscribe"]),
        (kind == 3, complaint_at, E["spam_complaint"]),
    ]
    send_ix = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    at = np.concatenate([t[mask] for mask, t, _ in parts])
    etype = np.concatenate([np.full(int(mask.sum()), e) for mask, _, e in parts])
    is_machine = np.concatenate(
        [
            np.zeros(
                int(parts[0][0].sum() + parts[1][0].sum() + parts[2][0].sum()), bool
            ),
            np.ones(int(machine.sum()), bool),
            np.zeros(
                int(human.sum() + click.sum() + (kind == 1).sum() + (kind == 3).sum()),
                bool,
            ),
        ]
    )
    keep = at < ctx.as_of
    order = np.lexsort((etype, at))
    order = order[keep[order]]
    send_ix, at, etype, is_machine = (
        send_ix[order],
        at[order],
        etype[order],
        is_machine[order],
    )
    who = person[send_ix]
    n = who.size

    suppressed = np.zeros(people.n, dtype=bool)
    ends = np.isin(etype, (E["unsubscribe"], E["bounce"], E["spam_complaint"]))
    suppressed[who[ends]] = True
    has_consent = (people.sub_start != NONE) & (people.optout_at == NONE) & ~suppressed

    is_open = etype == E["open"]
    agents = np.array(HUMAN_AGENTS, dtype=object)[rng.integers(0, len(HUMAN_AGENTS), n)]
    agent = np.where(is_open, np.where(is_machine, APPLE_PROXY_AGENT, agents), None)
    machine_text = np.where(is_open, np.where(is_machine, "true", "false"), None)
    c_cat = camp.category[col[send_ix]]
    link_cat = np.where(c_cat >= 0, c_cat, people.category[who])
    link_product = ctx.catalog.pick(rng, link_cat)
    link = np.where(etype == E["click"], ctx.catalog.urls[link_product], None)
    variant = np.where((send_ix + col[send_ix]) % 2 == 0, "A", "B")

    texts = np.asarray(iso_utc(at), dtype=object)
    fut = ~ends & (rng.random(n) < k.FUTURE_TIMESTAMP_RATE)
    texts[fut] = np.asarray(
        iso_utc(future_times(rng, ctx.as_of, int(fut.sum()))), dtype=object
    )
    log.add("email_events", np.flatnonzero(fut), "occurred_at", "future_timestamp")
    log.add(
        "email_events",
        np.flatnonzero(etype == E["unsubscribe"]),
        "event_type",
        "opted_out",
        "unsubscribe event",
    )

    table = pa.table(
        {
            "event_id": prefixed("e-", event_base + 1 + np.arange(n)),
            "occurred_at": pa.array(texts, pa.string()),
            "event_type": pa.array(np.array(EVENTS, dtype=object)[etype], pa.string()),
            "email": pa.array(people.email[who], pa.string()),
            "campaign_id": pa.array(camp.ids[col[send_ix]], pa.string()),
            "message_id": prefixed("m-", send_base + 1 + send_ix),
            "variant": pa.array(variant, pa.string()),
            "link_url": pa.array(link, pa.string()),
            "user_agent": pa.array(agent, pa.string()),
            "is_machine_open": pa.array(machine_text, pa.string()),
        }
    )
    return table, who, has_consent, s
