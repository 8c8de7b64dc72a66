"""Orders and order lines of one chunk of people (Pareto-skewed, seasonal)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mailroom.simulator import constants as k
from mailroom.simulator.context import Context, DefectLog
from mailroom.simulator.output import money_decimal, money_text, prefixed
from mailroom.simulator.people import ARCH, People, _invalidate
from mailroom.simulator.timefmt import DAY, HOUR, iso_utc, month_of

YEAR = int(365.25 * DAY)


@dataclass
class Orders:
    """Orders of a chunk: the landing tables plus arrays used by web events/truth."""

    orders: pa.Table
    items: pa.Table
    person: np.ndarray  # local person index per order
    true_at: np.ndarray  # the real order time (before any timestamp defect)
    written_at: np.ndarray  # ordered_at as written (future for defect rows)
    is_guest: np.ndarray
    item_order: np.ndarray  # order index per line
    item_product: np.ndarray  # real catalog product index per line
    item_written: np.ndarray  # product_id as written per line (object)


def future_times(rng: np.random.Generator, as_of: int, size: int) -> np.ndarray:
    """Times 80-100 years after ``as_of`` (always in the future)."""
    low, high = k.FUTURE_YEARS
    return as_of + ((low + rng.random(size) * (high - low)) * YEAR).astype(np.int64)


def unknown_products(rng: np.random.Generator, size: int) -> np.ndarray:
    """Product ids that are not in the catalog."""
    return np.char.add("p-9", rng.integers(10_000, 99_999, size).astype(str)).astype(
        object
    )


def pick_categories(
    ctx: Context, rng: np.random.Generator, preferred: np.ndarray, when: np.ndarray
) -> np.ndarray:
    """Preferred category most of the time, running more often in spring."""
    n = preferred.size
    shares = np.array(list(k.CATEGORY_SHARES.values()))
    other = rng.choice(shares.size, size=n, p=shares / shares.sum())
    cat = np.where(rng.random(n) < k.PREFERRED_CATEGORY_LOYALTY, preferred, other)
    month = month_of(when)
    spring = (month >= 3) & (month <= 5) & (rng.random(n) < k.SPRING_RUNNING_BOOST)
    return np.where(spring, ctx.catalog.categories.index("running"), cat)


def make_orders(
    ctx: Context,
    rng: np.random.Generator,
    people: People,
    log: DefectLog,
    order_base: int,
) -> Orders:
    """Draw the orders and lines of ``people``; ids start after ``order_base``."""
    person = np.repeat(np.arange(people.n), people.n_orders)
    low = np.maximum(people.t0[person], ctx.start + HOUR)
    high = people.t1[person]
    at = ctx.season.sample(rng, low, high)
    order = np.lexsort((at, person))
    person, at = person[order], at[order]
    m = person.size
    arch = people.arch[person]

    n_items = np.minimum(rng.geometric(k.ITEMS_PER_ORDER_P, m), 5)
    item_order = np.repeat(np.arange(m), n_items)
    starts = np.concatenate([[0], np.cumsum(n_items)[:-1]]).astype(np.int64)
    line_number = np.arange(item_order.size) - starts[item_order] + 1
    cats = pick_categories(
        ctx, rng, people.category[person[item_order]], at[item_order]
    )
    product = ctx.catalog.pick(rng, cats)
    q_w = np.array(k.QUANTITY_WEIGHTS)
    quantity = 1 + rng.choice(q_w.size, size=item_order.size, p=q_w / q_w.sum())
    unit = ctx.catalog.price_cents[product]
    line_total = quantity * unit
    subtotal = np.bincount(item_order, weights=line_total, minlength=m).astype(np.int64)

    hunter = arch == ARCH["discount_hunter"]
    rate = np.where(
        hunter, k.DISCOUNT_ORDER_RATE["discount_hunter"], k.DISCOUNT_ORDER_RATE_DEFAULT
    )
    rate = np.where(
        month_of(at) == 1, np.maximum(rate, k.JANUARY_SALE_DISCOUNT_RATE), rate
    )
    pct = np.array([0.1, 0.15, 0.2, 0.25])[rng.integers(0, 4, m)]
    discount = np.where(rng.random(m) < rate, np.round(subtotal * pct), 0).astype(
        np.int64
    )
    total = subtotal - discount
    line_discount = (line_total * discount[item_order]) // np.maximum(
        subtotal[item_order], 1
    )
    remainder = discount - np.bincount(
        item_order, weights=line_discount, minlength=m
    ).astype(np.int64)
    line_discount[starts[n_items > 0]] += remainder[n_items > 0]

    u = rng.random(m)
    refund_rate = np.where(hunter, k.REFUNDED_RATE_DISCOUNT_HUNTER, k.REFUNDED_RATE)
    status = np.where(
        u < k.CANCELLED_RATE,
        "cancelled",
        np.where(u < k.CANCELLED_RATE + refund_rate, "refunded", "placed"),
    ).astype(object)

    account = people.has_account[person]
    is_guest = ~account | (rng.random(m) < k.GUEST_ORDER_RATE)
    customer_id = np.where(is_guest, None, people.customer_id[person])
    email = people.email[person].copy()
    guest_rows = np.flatnonzero(is_guest)
    log.add("orders", guest_rows, "customer_id", "guest_checkout")
    bad = guest_rows[rng.random(guest_rows.size) < k.GUEST_INVALID_EMAIL_RATE]
    email = _invalidate(rng, email, bad)
    log.add("orders", bad, "email", "invalid_email")

    total_text = np.asarray(money_text(total), dtype=object)
    pick = rng.random(m)
    missing = pick < k.MISSING_VALUE_RATE
    zero = (pick >= k.MISSING_VALUE_RATE) & (
        pick < k.MISSING_VALUE_RATE + k.ZERO_AMOUNT_RATE
    )
    negative = (pick >= k.MISSING_VALUE_RATE + k.ZERO_AMOUNT_RATE) & (
        pick < k.MISSING_VALUE_RATE + k.ZERO_AMOUNT_RATE + k.NEGATIVE_AMOUNT_RATE
    )
    total_text[missing] = None
    total_text[zero] = "0.00"
    neg_cents = -rng.integers(500, 10_000, int(negative.sum()))
    total_text[negative] = np.asarray(money_text(neg_cents), dtype=object)
    status[zero | negative] = "placed"
    log.add("orders", np.flatnonzero(missing), "total_amount", "missing_value")
    log.add("orders", np.flatnonzero(zero), "total_amount", "zero_amount")
    log.add("orders", np.flatnonzero(negative), "total_amount", "negative_amount")

    country = np.array(k.COUNTRIES, dtype=object)[people.country[person]]
    no_country = rng.random(m) < k.MISSING_VALUE_RATE
    country[no_country] = None
    log.add("orders", np.flatnonzero(no_country), "shipping_country", "missing_value")

    written = at.copy()
    future = rng.random(m) < k.FUTURE_TIMESTAMP_RATE
    written[future] = future_times(rng, ctx.as_of, int(future.sum()))
    log.add("orders", np.flatnonzero(future), "ordered_at", "future_timestamp")

    order_ids = prefixed("o-", order_base + 1 + np.arange(m))
    orders = pa.table(
        {
            "order_id": order_ids,
            "customer_id": pa.array(customer_id, pa.string()),
            "email": pa.array(email, pa.string()),
            "ordered_at": iso_utc(written),
            "total_amount": pa.array(total_text, pa.string()),
            "currency": pa.array(np.full(m, k.CURRENCY), pa.string()),
            "status": pa.array(status, pa.string()),
            "discount_amount": money_text(discount),
            "shipping_country": pa.array(country, pa.string()),
        }
    )

    item_written = ctx.catalog.product_ids[product].copy()
    unknown = rng.random(item_order.size) < k.UNKNOWN_PRODUCT_RATE
    item_written[unknown] = unknown_products(rng, int(unknown.sum()))
    log.add("order_items", np.flatnonzero(unknown), "product_id", "unknown_product_id")
    items = pa.table(
        {
            "order_id": order_ids.take(pa.array(item_order)),
            "product_id": pa.array(item_written, pa.string()),
            "quantity": pa.array(quantity, pa.int64()),
            "unit_price": money_decimal(unit),
            "line_number": pa.array(line_number, pa.int64()),
            "discount_amount": money_decimal(line_discount),
        }
    )
    return Orders(
        orders=orders,
        items=items,
        person=person,
        true_at=at,
        written_at=written,
        is_guest=is_guest,
        item_order=item_order,
        item_product=product,
        item_written=item_written,
    )
