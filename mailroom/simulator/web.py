"""Web analytics events of one chunk: browsing, cart abandonment and checkouts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mailroom.simulator import constants as k
from mailroom.simulator.commerce import (
    Orders,
    future_times,
    pick_categories,
    unknown_products,
)
from mailroom.simulator.context import Context, DefectLog
from mailroom.simulator.output import prefixed
from mailroom.simulator.people import ARCH, People
from mailroom.simulator.timefmt import DAY, iso_utc

TYPES = ("page_view", "product_view", "add_to_cart", "remove_from_cart",
         "checkout_started", "search", "identify")  # fmt: skip
T = {name: i for i, name in enumerate(TYPES)}
_MASK64 = np.uint64((1 << 40) - 1)
SEARCH_TERMS = {
    "running": ("running shoes", "trail shoes", "marathon", "running jacket"),
    "yoga": ("yoga mat", "yoga block", "leggings", "meditation"),
    "hiking": ("hiking boots", "backpack", "rain jacket", "tent"),
    "fitness_apparel": ("gym shorts", "training top", "joggers", "sports bra"),
    "accessories": ("water bottle", "gps watch", "socks", "gym bag"),
}
REFERRERS = (None, "https://www.google.com/", "https://www.instagram.com/",
             "https://www.bing.com/", "newsletter")  # fmt: skip
REFERRER_P = (0.35, 0.35, 0.1, 0.05, 0.15)


def _scrambled(code: np.ndarray, mult: int, add: int) -> np.ndarray:
    """A bijection of 40-bit integers, for random-looking but unique ids."""
    with np.errstate(over="ignore"):
        x = code.astype(np.uint64) * np.uint64(mult) + np.uint64(add)
    return (x & _MASK64).astype(np.int64)


def anonymous_ids(pid: np.ndarray, device: np.ndarray) -> pa.Array:
    """``anon-...`` cookie id of (person, device)."""
    return prefixed("anon-", _scrambled(pid * 4 + device, 0x9E3779B1, 12345), 13)


def device_ids(pid: np.ndarray, device: np.ndarray) -> pa.Array:
    """``dev-...`` device id of (person, device)."""
    return prefixed("dev-", _scrambled(pid * 4 + device, 0x85EBCA77, 777), 13)


@dataclass
class WebEvents:
    """The chunk's web events (sorted by time) and facts for the ground truth."""

    table: pa.Table
    person: np.ndarray
    device: np.ndarray
    etype: np.ndarray
    at: np.ndarray
    product_written: np.ndarray


def _session_offsets(
    rng: np.random.Generator, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Session index and seconds since session start for each event."""
    session = np.repeat(np.arange(lengths.size), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    gaps = rng.integers(5, 180, session.size)
    gaps[first[lengths > 0]] = 0
    csum = np.cumsum(gaps)
    return session, csum - csum[first[session]]


def make_web_events(
    ctx: Context,
    rng: np.random.Generator,
    people: People,
    orders: Orders,
    log: DefectLog,
    event_base: int,
) -> WebEvents:
    """Draw browsing and purchase sessions and turn them into web events."""
    # Browsing sessions.
    s_person = np.repeat(np.arange(people.n), people.n_sessions)
    s = s_person.size
    end = np.where(
        people.arch == ARCH["lapsed"],
        np.minimum(people.t1 + 90 * DAY, ctx.as_of),
        ctx.as_of,
    )
    s_start = ctx.season.sample(rng, people.t0[s_person], end[s_person])
    s_len = np.minimum(rng.geometric(k.SESSION_EVENTS_P, s), 25)
    session, offset = _session_offsets(rng, s_len)
    b_person = s_person[session]
    b_at = s_start[session] + offset
    mix = np.array(list(k.BROWSE_EVENT_MIX.values()))
    names = list(k.BROWSE_EVENT_MIX)
    kinds = np.array([T[n] for n in names])[
        rng.choice(mix.size, session.size, p=mix / mix.sum())
    ]
    first_of_session = (
        np.r_[True, session[1:] != session[:-1]] if session.size else np.zeros(0, bool)
    )
    kinds[first_of_session] = T["page_view"]
    b_device = rng.integers(0, 4, s) % people.n_devices[s_person]
    logged = people.has_account[s_person] & (rng.random(s) < k.LOGGED_IN_SESSION_RATE)
    ident = people.email_known()[s_person] & (rng.random(s) < k.IDENTIFY_SESSION_RATE)
    id_sess = np.flatnonzero(ident)

    # Purchase sessions: view and add every item, start checkout, buy.
    m = orders.person.size
    n_items = np.bincount(orders.item_order, minlength=m)
    p_len = 2 + 2 * n_items + orders.is_guest
    p_session = np.repeat(np.arange(m), p_len)
    first = np.concatenate([[0], np.cumsum(p_len)[:-1]]).astype(np.int64)
    pos = np.arange(p_session.size) - first[p_session]
    p_kind = np.full(p_session.size, T["product_view"])
    item_first = np.concatenate([[0], np.cumsum(n_items)[:-1]]).astype(np.int64)
    item_idx = np.clip((pos - 1) // 2, 0, None)
    in_items = (pos >= 1) & (pos <= 2 * n_items[p_session])
    p_kind[in_items & ((pos - 1) % 2 == 1)] = T["add_to_cart"]
    p_kind[pos == 0] = T["page_view"]
    after = pos - 2 * n_items[p_session]
    p_kind[after == 1] = np.where(
        orders.is_guest[p_session[after == 1]], T["identify"], T["checkout_started"]
    )
    p_kind[after == 2] = T["checkout_started"]
    p_product = np.full(p_session.size, -1)
    p_product[in_items] = orders.item_product[
        item_first[p_session[in_items]] + item_idx[in_items]
    ]
    gap = rng.integers(20, 90, p_session.size)
    p_at = orders.true_at[p_session] - (p_len[p_session] - pos) * gap
    p_person = orders.person[p_session]
    p_device = rng.integers(0, 4, m) % people.n_devices[orders.person]

    # Identify events of browsing sessions (login or newsletter sign-up).
    person = np.concatenate([b_person, s_person[id_sess], p_person])
    at = np.concatenate([b_at, s_start[id_sess] + 3, p_at])
    etype = np.concatenate([kinds, np.full(id_sess.size, T["identify"]), p_kind])
    sess_dev = np.concatenate(
        [b_device[session], b_device[id_sess], p_device[p_session]]
    )
    logged_in = np.concatenate(
        [logged[session], logged[id_sess], ~orders.is_guest[p_session]]
    )
    is_start = np.concatenate(
        [first_of_session, np.zeros(id_sess.size, bool), pos == 0]
    )
    sess_time = np.concatenate(
        [s_start[session], s_start[id_sess], orders.true_at[p_session]]
    )
    needs_product = (
        (etype == T["product_view"])
        | (etype == T["add_to_cart"])
        | (etype == T["remove_from_cart"])
    )
    product = np.concatenate([np.full(b_person.size + id_sess.size, -1), p_product])
    browse_pick = needs_product & (product < 0)
    cats = pick_categories(
        ctx, rng, people.category[person[browse_pick]], at[browse_pick]
    )
    product[browse_pick] = ctx.catalog.pick(rng, cats)

    keep = at < ctx.as_of
    order = np.lexsort((np.arange(at.size), at))
    order = order[keep[order]]
    person, at, etype, sess_dev = (
        person[order],
        at[order],
        etype[order],
        sess_dev[order],
    )
    logged_in, is_start, product = logged_in[order], is_start[order], product[order]
    sess_time = sess_time[order]
    n = person.size

    pid = people.pid[person]
    cat_names = np.array(ctx.catalog.categories, dtype=object)
    cat = people.category[person]
    product_written = np.where(
        product >= 0, ctx.catalog.product_ids[np.maximum(product, 0)], None
    )
    unknown = np.flatnonzero((product >= 0) & (rng.random(n) < k.UNKNOWN_PRODUCT_RATE))
    product_written[unknown] = unknown_products(rng, unknown.size)
    log.add("web_events", unknown, "product_id", "unknown_product_id")

    page = np.where(
        product >= 0,
        k.SHOP_URL + "/p/" + np.where(product >= 0, product_written, ""),
        k.SHOP_URL + "/c/" + cat_names[cat],
    ).astype(object)
    page[etype == T["checkout_started"]] = k.SHOP_URL + "/checkout"
    page[etype == T["identify"]] = k.SHOP_URL + "/account"
    page[(etype == T["page_view"]) & (rng.random(n) < 0.3)] = k.SHOP_URL + "/"
    terms = np.array([SEARCH_TERMS[c] for c in ctx.catalog.categories], dtype=object)
    search = np.where(etype == T["search"], terms[cat, rng.integers(0, 4, n)], None)
    page[etype == T["search"]] = k.SHOP_URL + "/search"

    ref_p = np.array(REFERRER_P)
    ref = np.array(REFERRERS, dtype=object)[rng.choice(ref_p.size, n, p=ref_p)]
    camp_idx = np.searchsorted(ctx.campaigns.sent_at, sess_time, side="right") - 1
    from_mail = is_start & (ref == "newsletter") & (camp_idx >= 0)
    ref = np.where(is_start & (ref != "newsletter"), ref, None)
    utm_campaign = np.where(from_mail, ctx.campaigns.ids[np.maximum(camp_idx, 0)], None)

    customer = np.where(
        logged_in | (etype == T["identify"]), people.customer_id[person], None
    )
    email = np.where(etype == T["identify"], people.email[person], None)

    at_text = iso_utc(at)
    plain = (etype != T["add_to_cart"]) & (
        rng.random(n) < k.FUTURE_TIMESTAMP_RATE + k.UNPARSABLE_TIMESTAMP_RATE
    )
    fut = plain & (
        rng.random(n)
        < k.FUTURE_TIMESTAMP_RATE
        / (k.FUTURE_TIMESTAMP_RATE + k.UNPARSABLE_TIMESTAMP_RATE)
    )
    bad = plain & ~fut
    texts = np.asarray(at_text, dtype=object)
    texts[fut] = np.asarray(
        iso_utc(future_times(rng, ctx.as_of, int(fut.sum()))), dtype=object
    )
    junk = np.array(k.UNPARSABLE_TIMESTAMPS, dtype=object)
    texts[bad] = junk[rng.integers(0, junk.size, int(bad.sum()))]
    log.add("web_events", np.flatnonzero(fut), "occurred_at", "future_timestamp")
    log.add("web_events", np.flatnonzero(bad), "occurred_at", "unparsable_timestamp")

    table = pa.table(
        {
            "event_id": prefixed("w-", event_base + 1 + np.arange(n)),
            "occurred_at": pa.array(texts, pa.string()),
            "event_type": pa.array(np.array(TYPES, dtype=object)[etype], pa.string()),
            "anonymous_id": anonymous_ids(pid, sess_dev),
            "customer_id": pa.array(customer, pa.string()),
            "email": pa.array(email, pa.string()),
            "device_id": device_ids(pid, sess_dev),
            "product_id": pa.array(product_written, pa.string()),
            "page_url": pa.array(page, pa.string()),
            "referrer": pa.array(ref, pa.string()),
            "search_query": pa.array(search, pa.string()),
            "utm_source": pa.array(
                np.where(from_mail, "newsletter", None), pa.string()
            ),
            "utm_medium": pa.array(np.where(from_mail, "email", None), pa.string()),
            "utm_campaign": pa.array(utm_campaign, pa.string()),
        }
    )
    return WebEvents(table, person, sess_dev, etype, at, product_written)


def cart_truth(web: WebEvents, orders: Orders, people: People) -> pa.Table:
    """One row per add_to_cart event, with whether that product was ordered in 48 h."""
    adds = np.flatnonzero(web.etype == T["add_to_cart"])
    add_df = pd.DataFrame(
        {
            "row": adds,
            "person": web.person[adds],
            "product": web.product_written[adds],
            "at": web.at[adds],
        }
    )
    line_df = pd.DataFrame(
        {
            "person": orders.person[orders.item_order],
            "product": orders.item_written,
            "ordered": orders.written_at[orders.item_order],
        }
    )
    joined = add_df.merge(line_df, on=["person", "product"], how="inner")
    hit = joined[
        (joined["ordered"] >= joined["at"])
        & (joined["ordered"] <= joined["at"] + 2 * DAY)
    ]
    bought = np.isin(adds, hit["row"].to_numpy())
    event_ids = web.table.column("event_id").take(pa.array(adds))
    return pa.table(
        {
            "event_id": event_ids,
            "person_id": people.person_id.take(pa.array(web.person[adds])),
            "product_id": pa.array(web.product_written[adds], pa.string()),
            "added_at": pa.array(web.at[adds], pa.timestamp("s", tz="UTC")),
            "purchased_within_48h": pa.array(bought, pa.bool_()),
        }
    )


def web_identifiers(
    web: WebEvents, people: People
) -> list[tuple[str, pa.Array, np.ndarray]]:
    """(id_type, values, local person) of the distinct ids used in web events."""
    code = np.unique(web.person * 4 + web.device)
    person, device = code // 4, code % 4
    pid = people.pid[person]
    out = [
        ("anonymous_id", anonymous_ids(pid, device), person),
        ("device_id", device_ids(pid, device), person),
    ]
    for column, id_type in (("customer_id", "customer_id"), ("email", "email")):
        valid = pc.is_valid(web.table.column(column)).to_numpy(zero_copy_only=False)
        who = np.unique(web.person[valid])
        values = (
            people.customer_id[who] if id_type == "customer_id" else people.email[who]
        )
        out.append((id_type, pa.array(values, pa.string()), who))
    return out
