"""Recommendations: never bought, inactive or out-of-stock products; rules hold."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from ml.config import PredictionConfig
from ml.recommend import association_rules, recommend_products
from ml.synthetic import create_synthetic_warehouse

CUTOFF = datetime(2024, 12, 1)


@pytest.fixture(scope="module")
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_synthetic_warehouse(con, customers=300, random_state=4)
    return con


def test_never_recommends_bought_inactive_or_out_of_stock(warehouse) -> None:
    recs = recommend_products(warehouse, CUTOFF)
    bought = warehouse.execute(
        """
        select distinct orders.customer_id, items.product_id
        from intermediate.int_orders_resolved as orders
        inner join staging.stg_shop__order_items as items
            on orders.order_id = items.order_id
        where orders.is_revenue_order and orders.ordered_at < ?
        """,
        [CUTOFF],
    ).fetchall()
    unsellable = {
        row[0]
        for row in warehouse.execute(
            "select product_id from staging.stg_shop__products "
            "where not is_active or not is_in_stock"
        ).fetchall()
    }
    pairs = set(zip(recs["customer_id"], recs["product_id"], strict=True))
    assert unsellable and bought
    assert not pairs & set(bought)
    assert not set(recs["product_id"]) & unsellable


def test_one_row_per_customer_and_rank_with_a_reason(warehouse) -> None:
    recs = recommend_products(warehouse, CUTOFF, PredictionConfig(n_recommendations=4))
    customers = warehouse.execute("select count(*) from marts.dim_customers")
    assert recs["customer_id"].nunique() == customers.fetchone()[0]
    assert not recs.duplicated(["customer_id", "recommendation_rank"]).any()
    assert not recs.duplicated(["customer_id", "product_id"]).any()
    assert recs["recommendation_rank"].between(1, 4).all()
    assert recs["reason"].notna().all()
    assert set(recs["source"]) >= {"co_purchase_rule", "viewed_not_bought"}


def test_replenishable_categories_may_be_bought_again(warehouse) -> None:
    config = PredictionConfig(replenishable_categories=("running", "hiking"))
    recs = recommend_products(warehouse, CUTOFF, config)
    bought = set(
        warehouse.execute(
            """
            select distinct orders.customer_id || '|' || items.product_id
            from intermediate.int_orders_resolved as orders
            inner join staging.stg_shop__order_items as items
                on orders.order_id = items.order_id
            where orders.is_revenue_order and orders.ordered_at < ?
            """,
            [CUTOFF],
        )
        .df()
        .iloc[:, 0]
    )
    again = recs.loc[(recs["customer_id"] + "|" + recs["product_id"]).isin(bought)]
    assert set(again["category"]) <= {"running", "hiking"}


def test_rules_have_consistent_support_confidence_and_lift(warehouse) -> None:
    rules = association_rules(warehouse, CUTOFF)
    assert len(rules)
    assert (rules["customers"] >= PredictionConfig().rule_min_customers).all()
    assert rules["confidence"].between(0, 1).all()
    assert (rules["lift"] > 1).all()
    assert (rules["support"] <= rules["confidence"]).all()
