"""Product recommendations with a reason, built with SQL in DuckDB.

Candidates, in order of priority:

1. co-purchase rules "bought A, then B within N days" (support, confidence, lift)
   from the customer's own purchases;
2. products the customer viewed recently but did not buy;
3. popular products in the customer's preferred category;
4. popular products overall.

Never recommended: products the customer already bought (unless their category is
listed as replenishable), inactive or out-of-stock products, unknown products.
Only rows before ``cutoff`` are read.

The rules and the popular lists are built once from everyone's purchases; the picks
are built for ``recommendation_batch_customers`` customers at a time (a hash of the
customer id picks the batch), one statement each, so no statement holds more than
that many customers' candidates: in one statement, 5,000,000 customers' candidates
spilled more than 12 GB to disk in three and a half minutes (and, in an earlier
run, filled a disk with 17 GB free); in five batches, 0.08 GB.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import duckdb
import pandas as pd

from ml.config import PredictionConfig
from ml.features import CUSTOMERS, as_timestamp, source_sql

RECOMMENDATION_COLUMNS = (
    "customer_id",
    "recommendation_rank",
    "product_id",
    "category",
    "source",
    "score",
    "reason",
)


def _candidate_pool(n: int) -> int:
    return n + 20


def association_rules(
    con: duckdb.DuckDBPyConnection,
    cutoff: date | datetime,
    config: PredictionConfig | None = None,
) -> pd.DataFrame:
    """Co-purchase rules "bought A, then B within ``rule_window_days``".

    Returns
    -------
    pandas.DataFrame
        antecedent_id, consequent_id, customers, support, confidence, lift; one row
        per rule followed by at least ``rule_min_customers`` customers.
    """
    config = config or PredictionConfig()
    sql = (
        _inputs_sql(source_sql(con), batched=False)
        + _RULES_SQL
        + "select * from rules order by 1, 2"
    )
    return _execute(con, sql, _parameters(cutoff, config)).df()


def recommend_products(
    con: duckdb.DuckDBPyConnection,
    cutoff: date | datetime,
    config: PredictionConfig | None = None,
) -> pd.DataFrame:
    """Up to ``n_recommendations`` products per customer, each with a reason, as a
    frame: what :func:`write_recommendations` writes, for small warehouses and
    tests (the frame takes about 166 bytes a row: 2.3 GB at 5,000,000 customers).

    Returns
    -------
    pandas.DataFrame
        One row per customer per rank with the columns in
        :data:`RECOMMENDATION_COLUMNS`, sorted by customer and rank.
    """
    table = "temp.main._recommendations"
    try:
        write_recommendations(con, cutoff, config, table=table, temporary=True)
        return con.sql(
            f"select * from {table} order by customer_id, recommendation_rank"
        ).df()
    finally:
        con.execute(f"drop table if exists {table}")


def write_recommendations(
    con: duckdb.DuckDBPyConnection,
    cutoff: date | datetime,
    config: PredictionConfig | None = None,
    *,
    table: str = "ml.product_recommendations",
    temporary: bool = False,
) -> int:
    """Replace ``table`` with up to ``n_recommendations`` products per customer,
    each with a reason, built in the warehouse in batches of customers.

    The new rows are built in ``<table>__building`` and swapped in by one
    transaction, so readers see the previous table until the new one is whole.

    Parameters
    ----------
    con
        Warehouse connection.
    cutoff
        Only purchases, views and sales before it count.
    config
        Rule window and thresholds, number of picks, replenishable categories,
        customers per batch.
    table
        Destination, schema-qualified; its schema must exist.
    temporary
        Build a temporary table (``table`` in the ``temp`` catalog) instead.

    Returns
    -------
    int
        Rows written: one per customer per rank, with the columns in
        :data:`RECOMMENDATION_COLUMNS`.
    """
    config = config or PredictionConfig()
    sources = source_sql(con)
    parameters = _parameters(cutoff, config) | {
        "view_window": config.view_window_days,
        "popular_window": config.popular_window_days,
        "pool": _candidate_pool(config.n_recommendations),
        "n": config.n_recommendations,
        "replenishable": list(config.replenishable_categories),
    }
    whole = _inputs_sql(sources, batched=False)
    shared = {
        _RULES_TABLE: whole + _RULES_SQL + "select * from rules",
        _POPULAR_TABLE: whole + _POPULAR_SQL,
    }
    customers = con.execute(f"select count(distinct customer_id) from {CUSTOMERS}")
    per_batch = config.recommendation_batch_customers
    batches = max(1, math.ceil(customers.fetchone()[0] / per_batch))
    building = f"{table}__building"
    create = "create or replace temp table" if temporary else "create or replace table"
    picks = _inputs_sql(sources, batched=True) + _PICKS_SQL
    built = False
    try:
        for name, sql in shared.items():
            _execute(con, f"create or replace temp table {name} as {sql}", parameters)
        for batch in range(batches):
            statement = (
                f"{create} {building} as {picks}"
                if batch == 0
                else f"insert into {building} select * from ({picks})"
            )
            _execute(con, statement, parameters | {"batch": batch, "batches": batches})
            built = True
    except BaseException:
        if built:  # a later batch failed: no half-built table is left
            con.execute(f"drop table if exists {building}")
        raise
    finally:
        for name in shared:
            con.execute(f"drop table if exists {name}")
    rows = con.execute(f"select count(*) from {building}").fetchone()[0]
    con.execute("begin transaction")
    try:
        con.execute(f"drop table if exists {table}")
        con.execute(f"alter table {building} rename to {table.rsplit('.', 1)[-1]}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return rows


def _execute(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: dict
) -> duckdb.DuckDBPyConnection:
    """Run ``sql`` with the ``parameters`` it names (DuckDB refuses extra ones)."""
    named = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {k: v for k, v in parameters.items() if k in named})


def _parameters(cutoff: date | datetime, config: PredictionConfig) -> dict:
    return {
        "cutoff": as_timestamp(cutoff),
        "rule_window": config.rule_window_days,
        "min_customers": config.rule_min_customers,
        "max_products": config.rule_max_products,
        "min_lift": config.rule_min_lift,
        "rules_per_product": _candidate_pool(config.n_recommendations),
    }


def _inputs_sql(sources: dict[str, str], *, batched: bool) -> str:
    """The with-list's inputs: products, purchases and web events before $cutoff;
    with ``batched``, the purchases and events of batch $batch of $batches only."""
    orders_in_batch = f"and {_in_batch('orders.customer_id')}" if batched else ""
    events_in_batch = f"and {_in_batch('customer_id')}" if batched else ""
    return f"""
with

all_products as (
    select * from ({sources["products"]}) as source_products
),

sellable as (
    select product_id, category from all_products
    where is_active and is_in_stock
),

bought as (
    select
        orders.customer_id,
        order_items.product_id,
        orders.ordered_at,
        order_items.quantity,
        order_items.line_amount as spend
    from ({sources["orders"]}) as orders
    inner join ({sources["order_items"]}) as order_items
        on orders.order_id = order_items.order_id
    where
        orders.is_revenue_order and orders.ordered_at < $cutoff
        {orders_in_batch}
),

web_events as (
    select * from ({sources["web_events"]}) as source_web
    where occurred_at < $cutoff {events_in_batch}
)
"""


def _in_batch(customer_id: str) -> str:
    """The condition that a customer id falls in batch $batch of $batches."""
    return f"hash({customer_id}) % $batches = $batch"


# Built once per run from everyone's purchases, read by every batch of picks.
_RULES_TABLE = "_recommendation_rules"
_POPULAR_TABLE = "_recommendation_popular"

_RULES_SQL = """,

first_bought as (
    select customer_id, product_id, min(ordered_at) as first_bought_at
    from bought
    group by customer_id, product_id
),

buyer_count as (
    select count(distinct customer_id) as buyers from first_bought
),

product_buyers as (
    select product_id, count(*) as buyers
    from first_bought
    group by product_id
),

rule_products as (
    select product_id from product_buyers
    order by buyers desc, product_id
    limit $max_products
),

rule_buys as (
    select first_bought.*
    from first_bought
    inner join rule_products
        on first_bought.product_id = rule_products.product_id
),

pairs as (
    select
        antecedent.product_id as antecedent_id,
        consequent.product_id as consequent_id,
        count(distinct antecedent.customer_id) as customers
    from rule_buys as antecedent
    inner join rule_buys as consequent
        on
            antecedent.customer_id = consequent.customer_id
            and antecedent.product_id != consequent.product_id
            and consequent.first_bought_at > antecedent.first_bought_at
            and consequent.first_bought_at
            <= antecedent.first_bought_at + to_days($rule_window)
    group by antecedent.product_id, consequent.product_id
),

rules as (
    select
        pairs.antecedent_id,
        pairs.consequent_id,
        pairs.customers,
        pairs.customers / buyer_count.buyers as support,
        pairs.customers / antecedent.buyers as confidence,
        (pairs.customers / antecedent.buyers)
        / (consequent.buyers / buyer_count.buyers) as lift
    from pairs
    cross join buyer_count
    inner join product_buyers as antecedent
        on pairs.antecedent_id = antecedent.product_id
    inner join product_buyers as consequent
        on pairs.consequent_id = consequent.product_id
    where pairs.customers >= $min_customers
    qualify
        lift > $min_lift
        and row_number() over (
            partition by pairs.antecedent_id
            order by confidence * lift desc, pairs.consequent_id
        ) <= $rules_per_product
)
"""

_POPULAR_SQL = """
select
    sellable.product_id,
    sellable.category,
    coalesce(units.units_sold, 0) as units_sold,
    row_number() over (
        partition by sellable.category
        order by coalesce(units.units_sold, 0) desc, sellable.product_id
    ) as category_rank,
    row_number() over (
        order by coalesce(units.units_sold, 0) desc, sellable.product_id
    ) as overall_rank
from sellable
left join (
    select product_id, sum(quantity) as units_sold
    from bought
    where ordered_at >= $cutoff - to_days($popular_window)
    group by product_id
) as units
    on sellable.product_id = units.product_id

"""

_PICKS_SQL = f"""
,

customers as (
    select distinct customer_id from {CUSTOMERS}
    where {_in_batch("customer_id")}
),

rules as (
    select * from {_RULES_TABLE}
),

popular as (
    select * from {_POPULAR_TABLE}
),

customer_bought as (
    select
        customer_id,
        product_id,
        sum(spend) as spend
    from bought
    group by customer_id, product_id
),

preferred as (
    select customer_id, category
    from (
        select
            customer_bought.customer_id,
            sellable_all.category,
            sum(customer_bought.spend) as spend
        from customer_bought
        inner join all_products as sellable_all
            on customer_bought.product_id = sellable_all.product_id
        where sellable_all.category is not null
        group by customer_bought.customer_id, sellable_all.category
    ) as category_spend
    qualify row_number() over (
        partition by customer_id order by spend desc, category asc
    ) = 1
),

-- Candidates carry what their reason is made of; the reason itself is written
-- only for the picks kept (at a million customers, tens of millions of candidate
-- rows with their sentences made the windows below spill gigabytes).
rule_candidates as (
    -- The strongest rule per product, ties broken by the antecedent's id, so the
    -- reason is the same on every run.
    select
        customer_bought.customer_id,
        rules.consequent_id as product_id,
        1 as priority,
        rules.confidence * rules.lift as score,
        rules.antecedent_id,
        rules.confidence,
        rules.lift
    from customer_bought
    inner join rules
        on customer_bought.product_id = rules.antecedent_id
    qualify row_number() over (
        partition by customer_bought.customer_id, rules.consequent_id
        order by rules.confidence * rules.lift desc, rules.antecedent_id
    ) = 1
),

viewed_candidates as (
    select
        customer_id,
        product_id,
        2 as priority,
        count(*) as score,
        null as antecedent_id,
        null as confidence,
        null as lift
    from web_events
    where
        event_type = 'product_view'
        and product_id is not null
        and occurred_at >= $cutoff - to_days($view_window)
    group by customer_id, product_id
),

own_candidates as (
    select * from rule_candidates
    union all
    select * from viewed_candidates
),

-- How far down the popular lists a customer's picks can reach: past at most the
-- products they bought and their own candidates (and, in the overall list, the
-- $n picks of their category), so their first $n allowed picks of each list are
-- within these depths. Capped at $pool, as every customer's lists were.
list_depth as (
    select
        customer_id,
        least($pool, $n + passed) as category_depth,
        least($pool, 2 * $n + passed) as overall_depth
    from (
        select
            customers.customer_id,
            coalesce(passed_count.passed, 0) as passed
        from customers
        left join (
            select customer_id, count(*) as passed
            from (
                select customer_id from customer_bought
                union all
                select customer_id from own_candidates
            ) as passed_rows
            group by customer_id
        ) as passed_count
            on customers.customer_id = passed_count.customer_id
    ) as reach
),

-- Each customer's ranks 1..depth, joined to the lists by rank: only the rows
-- needed (joined on rank <= depth, everyone was first paired with whole lists).
category_ranks as materialized (
    select
        preferred.customer_id,
        preferred.category,
        unnest(range(1, list_depth.category_depth + 1)) as category_rank
    from preferred
    inner join list_depth
        on preferred.customer_id = list_depth.customer_id
),

category_candidates as (
    select
        category_ranks.customer_id,
        popular.product_id,
        3 as priority,
        popular.units_sold as score,
        null as antecedent_id,
        null as confidence,
        null as lift
    from category_ranks
    inner join popular
        on
            category_ranks.category = popular.category
            and category_ranks.category_rank = popular.category_rank
),

overall_candidates as (
    select
        overall_ranks.customer_id,
        popular.product_id,
        4 as priority,
        popular.units_sold as score,
        null as antecedent_id,
        null as confidence,
        null as lift
    from (
        select
            customer_id,
            unnest(range(1, overall_depth + 1)) as overall_rank
        from list_depth
    ) as overall_ranks
    inner join popular
        on overall_ranks.overall_rank = popular.overall_rank
),

candidates as (
    select * from own_candidates
    union all
    select * from category_candidates
    union all
    select * from overall_candidates
),

allowed as (
    select
        candidates.*,
        sellable.category
    from candidates
    inner join customers
        on candidates.customer_id = customers.customer_id
    inner join sellable
        on candidates.product_id = sellable.product_id
    left join customer_bought
        on
            candidates.customer_id = customer_bought.customer_id
            and candidates.product_id = customer_bought.product_id
    where
        customer_bought.product_id is null
        or list_contains($replenishable, sellable.category)
),

-- A customer has at most one candidate per product and priority. These two
-- windows take two thirds of a batch's time; a top-k aggregate in their place
-- (arg_min over the first 4 * $n candidates) halved it at 6GB, but at 3GB it spilled
-- more than 9 GB within a minute where the windows spill 1.7 GB in all.
best_per_product as (
    select * from allowed
    qualify row_number() over (
        partition by customer_id, product_id
        order by priority
    ) = 1
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by priority, score desc, product_id
        ) as recommendation_rank
    from best_per_product
)

select
    customer_id,
    recommendation_rank,
    product_id,
    category,
    case priority
        when 1 then 'co_purchase_rule'
        when 2 then 'viewed_not_bought'
        when 3 then 'popular_in_category'
        else 'popular_overall'
    end as source,
    cast(score as double) as score,
    case priority
        when 1
            then
                'often bought within ' || $rule_window || ' days after '
                || antecedent_id || ' (confidence '
                || printf('%.2f', confidence) || ', lift '
                || printf('%.1f', lift) || ')'
        when 2
            then
                'viewed ' || cast(score as bigint) || ' times in the last '
                || $view_window || ' days, not bought'
        when 3
            then
                'popular in your favourite category ' || category
                || ' (' || cast(score as bigint) || ' sold in ' || $popular_window
                || ' days)'
        else
            'popular overall (' || cast(score as bigint) || ' sold in '
            || $popular_window || ' days)'
    end as reason
from ranked
where recommendation_rank <= $n
"""
