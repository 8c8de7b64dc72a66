"""A small synthetic warehouse with the tables and columns the ml package reads.

For tests and benchmarks that must not depend on a built demo warehouse: people
buy at a personal rate until they silently drop out, browse and open emails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

CATEGORIES = ("running", "hiking", "yoga", "accessories")


def create_synthetic_warehouse(
    con: duckdb.DuckDBPyConnection,
    customers: int = 400,
    start: datetime = datetime(2024, 1, 1),
    end: datetime = datetime(2025, 1, 1),
    random_state: int = 0,
    with_web_and_email: bool = True,
) -> None:
    """Create ``marts``, ``intermediate`` and ``staging`` tables in ``con``.

    Parameters
    ----------
    con
        An (in-memory) DuckDB connection to write to.
    customers
        Number of people (a fifth never buy).
    start, end
        Period covered by orders and events.
    random_state
        Seed.
    with_web_and_email
        When False, the web and email tables are not created at all.
    """
    rng = np.random.default_rng(random_state)
    span = (end - start).total_seconds() / 86400
    ids = [f"cus_{i:05d}" for i in range(customers)]
    products = pd.DataFrame(
        {
            "product_id": [f"p-{i:03d}" for i in range(40)],
            "category": [CATEGORIES[i % len(CATEGORIES)] for i in range(40)],
            "is_active": [i % 13 != 5 for i in range(40)],
            "is_in_stock": [i % 11 != 7 for i in range(40)],
        }
    )
    orders, items, web, email = [], [], [], []
    for n, customer_id in enumerate(ids):
        rate = rng.gamma(0.8, 1 / 25) if n % 5 else 0.0  # orders per day
        drop = rng.uniform(0.05, 0.5)
        favourite = rng.integers(0, len(CATEGORIES))
        t = rng.uniform(0, span * 0.7)
        alive = rate > 0
        while alive and t < span:
            order_id = f"o-{len(orders):06d}"
            at = start + timedelta(days=float(t))
            total = 0.0
            for line in range(int(rng.integers(1, 4))):
                pick = favourite + len(CATEGORIES) * int(rng.integers(0, 10))
                amount = float(rng.uniform(10, 120))
                total += amount
                items.append((order_id, f"p-{pick % 40:03d}", 1.0, amount, line))
            discount = float(total * 0.2) if rng.random() < 0.2 else 0.0
            status = rng.random() < 0.95
            orders.append((order_id, customer_id, bool(status), total, discount, at))
            alive = rng.random() > drop
            t += rng.exponential(1 / rate)
        for _ in range(int(rng.poisson(6))):
            at = start + timedelta(days=float(rng.uniform(0, span)))
            pick = favourite + len(CATEGORIES) * int(rng.integers(0, 10))
            web.append(
                (customer_id, "product_view", f"anon-{n}", f"p-{pick % 40:03d}", at)
            )
        for _ in range(int(rng.poisson(4))):
            at = start + timedelta(days=float(rng.uniform(0, span)))
            kind = ["sent", "open", "click"][int(rng.integers(0, 3))]
            email.append((f"{customer_id}@example.com", kind, rng.random() < 0.3, at))

    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists intermediate")
    con.execute("create schema if not exists staging")
    frames = {
        "marts.dim_customers": pd.DataFrame({"customer_id": ids}),
        "intermediate.int_orders_resolved": pd.DataFrame(
            orders,
            columns=[
                "order_id",
                "customer_id",
                "is_revenue_order",
                "total_amount",
                "discount_amount",
                "ordered_at",
            ],
        ),
        "staging.stg_shop__order_items": pd.DataFrame(
            items,
            columns=["order_id", "product_id", "quantity", "line_amount", "line"],
        ),
        "staging.stg_shop__products": products,
        "intermediate.int_identity_components": pd.DataFrame(
            {
                "identifier_key": [f"email:{c}@example.com" for c in ids]
                + [f"customer_id:{c}" for c in ids],
                "customer_id": ids + ids,
            }
        ),
    }
    if with_web_and_email:
        frames["staging.stg_web__events"] = pd.DataFrame(
            [(c, None, kind, anon, pid, at) for c, kind, anon, pid, at in web],
            columns=[
                "shop_customer_id",
                "email",
                "event_type",
                "anonymous_id",
                "product_id",
                "occurred_at",
            ],
        )
        frames["staging.stg_esp__email_events"] = pd.DataFrame(
            email, columns=["email", "event_type", "is_machine_open", "occurred_at"]
        )
    for name, frame in frames.items():
        con.register("_frame", frame)
        con.execute(f"create or replace table {name} as select * from _frame")
        con.unregister("_frame")
