"""Recommendations: never bought, inactive or out-of-stock products; rules hold."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pytest

from ml.config import PredictionConfig
from ml.recommend import (
    RECOMMENDATION_COLUMNS,
    association_rules,
    recommend_products,
    write_recommendations,
)
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


def test_a_customer_who_bought_the_best_sellers_gets_the_next_ones() -> None:
    # The popular lists are read only as deep as a customer can need (products
    # bought + own candidates + picks): someone who bought the fifteen best sellers
    # still gets the next ones, as if each list were read to its full pool.
    con = duckdb.connect()
    create_synthetic_warehouse(con, customers=300, random_state=4)
    config = PredictionConfig(rule_min_customers=10**6)  # no rules: lists only
    pool = config.n_recommendations + 20
    popular = con.execute(
        """
        select products.product_id, products.category,
            coalesce(sum(items.quantity), 0) as units
        from staging.stg_shop__products as products
        left join staging.stg_shop__order_items as items
            on products.product_id = items.product_id
            and items.order_id in (
                select order_id from intermediate.int_orders_resolved
                where is_revenue_order
                    and ordered_at >= ? - interval 90 days and ordered_at < ?
            )
        where products.is_active and products.is_in_stock
        group by all
        order by units desc, products.product_id
        """,
        [CUTOFF, CUTOFF],
    ).df()
    bought = popular["product_id"].head(15).tolist()
    con.execute("insert into marts.dim_customers values ('heavy')")
    con.execute(
        "insert into intermediate.int_orders_resolved "
        "values ('o-heavy', 'heavy', true, 150, 0, ? - interval 400 days)",
        [CUTOFF],
    )
    for line, product_id in enumerate(bought, start=1):
        con.execute(
            "insert into staging.stg_shop__order_items values ('o-heavy', ?, 1, 10, ?)",
            [product_id, line],
        )
    favourite = (
        popular.loc[popular["product_id"].isin(bought), "category"]
        .value_counts()
        .sort_index()
        .idxmax()
    )
    in_category = popular.loc[popular["category"] == favourite].head(pool)
    expected = [p for p in in_category["product_id"] if p not in bought]
    overall = [p for p in popular["product_id"].head(pool) if p not in bought]
    expected += [p for p in overall if p not in expected]

    recs = recommend_products(con, CUTOFF, config)
    heavy = recs.loc[recs["customer_id"] == "heavy"]
    assert heavy["product_id"].tolist() == expected[: config.n_recommendations]
    assert not set(heavy["product_id"]) & set(bought)


def test_batches_of_customers_give_the_picks_of_one_statement(warehouse) -> None:
    one = recommend_products(warehouse, CUTOFF)
    customers = warehouse.execute(
        "select count(*) from marts.dim_customers"
    ).fetchone()[0]
    config = PredictionConfig(recommendation_batch_customers=customers // 7)
    batched = recommend_products(warehouse, CUTOFF, config)
    assert len(one) >= 3 * customers - 10
    pd.testing.assert_frame_equal(batched, one)


def test_the_table_is_swapped_whole_and_leaves_nothing_behind(warehouse) -> None:
    warehouse.execute("create schema if not exists ml")
    warehouse.execute(
        "create or replace table ml.product_recommendations as select 'old' as stale"
    )
    config = PredictionConfig(recommendation_batch_customers=100)
    rows = write_recommendations(warehouse, CUTOFF, config)
    written = warehouse.sql(
        "select * from ml.product_recommendations order by customer_id, "
        "recommendation_rank"
    ).df()
    assert rows == len(written)
    assert list(written.columns) == list(RECOMMENDATION_COLUMNS)
    pd.testing.assert_frame_equal(written, recommend_products(warehouse, CUTOFF))
    tables = warehouse.sql("select table_name from duckdb_tables()").fetchall()
    assert ("product_recommendations__building",) not in tables
    assert _temporary_tables(warehouse) == []


def test_a_failed_build_keeps_the_previous_table(warehouse) -> None:
    warehouse.execute("create schema if not exists ml")
    warehouse.execute("create or replace table ml.kept as select 'previous' as rows")
    # A view where the build's table goes: the build fails before the swap.
    warehouse.execute("create or replace view ml.kept__building as select 1 as x")
    with pytest.raises(duckdb.Error):
        write_recommendations(warehouse, CUTOFF, table="ml.kept")
    assert warehouse.sql("select * from ml.kept").fetchall() == [("previous",)]
    assert _temporary_tables(warehouse) == []
    warehouse.execute("drop view ml.kept__building")


def _temporary_tables(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.sql("select table_name from duckdb_tables() where temporary").fetchall()
