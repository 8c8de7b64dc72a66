"""Point-in-time customer features, built with SQL in DuckDB.

Every function here takes a ``cutoff`` and reads only rows strictly before it, so the
same code builds the scoring snapshot (cutoff = as-of date) and the training snapshots
at earlier cutoffs. Sources that are absent (no web or email data) give zeros.

Inputs (schema.table, columns read):

- ``marts.dim_customers``: customer_id (the universe: one output row each)
- ``intermediate.int_orders_resolved``: order_id, customer_id, is_revenue_order,
  total_amount, discount_amount, ordered_at
- ``staging.stg_shop__order_items``: order_id, product_id, line_amount
- ``staging.stg_shop__products``: product_id, category
- ``intermediate.int_web_events_enriched`` (customer_id, event_type, anonymous_id,
  product_id, occurred_at) or else ``staging.stg_web__events`` resolved through
  ``intermediate.int_identity_components`` (identifier_key, customer_id)
- ``staging.stg_esp__email_events``: email, event_type, is_machine_open, occurred_at
"""

from __future__ import annotations

from datetime import date, datetime, time

import duckdb
import pandas as pd

TOP_CATEGORIES = 5

#: Feature columns, in output order (after ``customer_id``).
FEATURE_COLUMNS: tuple[str, ...] = (
    "frequency",
    "purchase_days",
    "monetary",
    "avg_order_value",
    "max_order_value",
    "recency_days",
    "tenure_days",
    "mean_gap_days",
    "std_gap_days",
    "recency_gap_ratio",
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "orders_decayed_90d",
    "active_weeks_90d",
    "active_months_365d",
    "spend_90d",
    "spend_prev_90d",
    "spend_180d",
    "spend_prev_180d",
    "spend_trend",
    "non_revenue_orders",
    "return_rate",
    "discount_share",
    "discounted_order_share",
    "n_products",
    "avg_items_per_order",
    "avg_lines_per_order",
    "n_categories",
    "top_category_share",
    *(f"category_{rank}_share" for rank in range(1, TOP_CATEGORIES + 1)),
    "email_sent_90d",
    "email_opens_90d",
    "email_clicks_90d",
    "email_open_rate_90d",
    "days_since_email_engagement",
    "product_views_30d",
    "product_views_90d",
    "sessions_30d",
    "sessions_90d",
    "cart_adds_30d",
    "products_viewed_90d",
    "days_since_visit",
)

ORDERS = "intermediate.int_orders_resolved"
ORDER_ITEMS = "staging.stg_shop__order_items"
PRODUCTS = "staging.stg_shop__products"
WEB_ENRICHED = "intermediate.int_web_events_enriched"
WEB_EVENTS = "staging.stg_web__events"
EMAIL_EVENTS = "staging.stg_esp__email_events"
IDENTITY = "intermediate.int_identity_components"
CUSTOMERS = "marts.dim_customers"

_EMPTY_ORDERS = """
    select
        null::varchar as order_id,
        null::varchar as customer_id,
        null::boolean as is_revenue_order,
        null::double as total_amount,
        null::double as discount_amount,
        null::timestamp as ordered_at
    where false
"""
_EMPTY_ITEMS = """
    select
        null::varchar as order_id,
        null::varchar as product_id,
        null::double as quantity,
        null::double as line_amount
    where false
"""
_EMPTY_PRODUCTS = """
    select
        null::varchar as product_id,
        null::varchar as category,
        null::boolean as is_active,
        null::boolean as is_in_stock
    where false
"""
_EMPTY_WEB = """
    select
        null::varchar as customer_id,
        null::varchar as event_type,
        null::varchar as anonymous_id,
        null::varchar as product_id,
        null::timestamp as occurred_at
    where false
"""
_EMPTY_EMAIL = """
    select
        null::varchar as customer_id,
        null::varchar as event_type,
        null::boolean as is_machine_open,
        null::timestamp as occurred_at
    where false
"""


def as_timestamp(value: date | datetime) -> datetime:
    """A naive timestamp for a date (midnight) or datetime (tz dropped after UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = pd.Timestamp(value).tz_convert("UTC").tz_localize(None)
            return value.to_pydatetime()
        return value
    return datetime.combine(value, time())


def has_table(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether ``schema.table`` exists (table or view)."""
    schema, name = qualified.split(".")
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def source_sql(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """SQL of each input relation, or an empty relation of the same shape."""
    sources = {
        "orders": f"""
            select
                order_id,
                customer_id,
                is_revenue_order,
                cast(total_amount as double) as total_amount,
                cast(coalesce(discount_amount, 0) as double) as discount_amount,
                cast(ordered_at as timestamp) as ordered_at
            from {ORDERS}
            where customer_id is not null
        """
        if has_table(con, ORDERS)
        else _EMPTY_ORDERS,
        "order_items": f"""
            select
                order_id,
                product_id,
                cast(quantity as double) as quantity,
                cast(line_amount as double) as line_amount
            from {ORDER_ITEMS}
        """
        if has_table(con, ORDER_ITEMS)
        else _EMPTY_ITEMS,
        "products": f"""
            select
                product_id,
                category,
                coalesce(is_active, true) as is_active,
                coalesce(is_in_stock, true) as is_in_stock
            from {PRODUCTS}
        """
        if has_table(con, PRODUCTS)
        else _EMPTY_PRODUCTS,
    }
    if has_table(con, WEB_ENRICHED):
        sources["web_events"] = f"""
            select
                customer_id, event_type, anonymous_id, product_id,
                cast(occurred_at as timestamp) as occurred_at
            from {WEB_ENRICHED}
            where customer_id is not null
        """
    elif has_table(con, WEB_EVENTS) and has_table(con, IDENTITY):
        sources["web_events"] = f"""
            select
                identity.customer_id,
                web.event_type,
                web.anonymous_id,
                web.product_id,
                cast(web.occurred_at as timestamp) as occurred_at
            from {WEB_EVENTS} as web
            inner join {IDENTITY} as identity
                on identity.identifier_key = case
                    when web.shop_customer_id is not null
                        then 'customer_id:' || web.shop_customer_id
                    when web.email is not null
                        then 'email:' || web.email
                end
        """
    else:
        sources["web_events"] = _EMPTY_WEB
    if has_table(con, EMAIL_EVENTS) and has_table(con, IDENTITY):
        sources["email_events"] = f"""
            select
                identity.customer_id,
                email.event_type,
                coalesce(email.is_machine_open, false) as is_machine_open,
                cast(email.occurred_at as timestamp) as occurred_at
            from {EMAIL_EVENTS} as email
            inner join {IDENTITY} as identity
                on identity.identifier_key = 'email:' || email.email
        """
    else:
        sources["email_events"] = _EMPTY_EMAIL
    sources["revenue_lines"] = f"""
        select
            orders.customer_id,
            orders.order_id,
            orders.ordered_at,
            order_items.product_id,
            order_items.quantity,
            products.category,
            order_items.line_amount
        from ({sources["orders"]}) as orders
        inner join ({sources["order_items"]}) as order_items
            on orders.order_id = order_items.order_id
        left join ({sources["products"]}) as products
            on order_items.product_id = products.product_id
        where orders.is_revenue_order
    """
    sources.update(_latest_by_month(sources))
    return sources


def _latest_by_month(sources: dict[str, str]) -> dict[str, str]:
    """Each person's latest web event and email engagement per calendar month.

    The latest event before a cutoff is the latest one in the 90 days before it
    or, when there is none, the latest in a month that began at least 90 days
    before the cutoff (such a month has ended before it): reading these few
    rows spares every snapshot a pass over all history.
    """
    engaged = "(event_type = 'open' and not is_machine_open) or event_type = 'click'"
    return {
        "web_months": _latest_per_month(sources["web_events"]),
        "email_months": _latest_per_month(sources["email_events"], engaged),
    }


def _latest_per_month(events: str, condition: str = "true") -> str:
    return f"""
        select
            customer_id,
            date_trunc('month', occurred_at) as month_start,
            max(occurred_at) as last_event_at
        from ({events}) as events
        where {condition}
        group by all
    """


def snapshot_sources(
    con: duckdb.DuckDBPyConnection, before: date | datetime
) -> dict[str, str]:
    """:func:`source_sql` with what every cutoff reads alike read once.

    The ESP staging model is a view that normalizes every raw event; reading it
    once per snapshot cost more than all other features together (33 s per read
    at 1,000,000 customers). Its rows before ``before`` are copied into a
    temporary table of this connection (allowed on read-only connections too),
    and so are the order lines joined to their orders and products, and each
    person's latest web event and email engagement per month
    (:func:`_latest_by_month`); nothing at or after ``before`` is copied.
    """
    sources = source_sql(con)
    before = as_timestamp(before)

    def earlier(name: str, column: str) -> str:
        return f"select * from ({sources[name]}) as {name} where {column} < $before"

    def copy(name: str, sql: str) -> str:
        # One table per date, so runs for different dates never share rows.
        table = f"ml_{name}_{before:%Y%m%d_%H%M%S}"
        create = f"create or replace temp table {table} as {sql}"
        con.execute(create, {"before": before})
        return f"select * from temp.{table}"

    if sources["email_events"] != _EMPTY_EMAIL:
        sources["email_events"] = copy(
            "email_events", earlier("email_events", "occurred_at")
        )
    sources["revenue_lines"] = copy(
        "revenue_lines", earlier("revenue_lines", "ordered_at")
    )
    months = _latest_by_month(
        {
            "web_events": earlier("web_events", "occurred_at"),
            "email_events": earlier("email_events", "occurred_at"),
        }
    )
    for name, sql in months.items():
        sources[name] = copy(name, sql)
    return sources


def _features_sql(sources: dict[str, str]) -> str:
    shares = ",\n".join(
        f"""coalesce(sum(category_spend) filter (where category_rank = {rank})
                / nullif(max(total_category_spend), 0), 0)
                as category_{rank}_share"""
        for rank in range(1, TOP_CATEGORIES + 1)
    )
    return f"""
with

customers as (
    select distinct customer_id from {CUSTOMERS}
),

orders as (
    select * from ({sources["orders"]}) as source_orders
    where ordered_at < $cutoff
),

revenue_orders as (
    select * from orders where is_revenue_order
),

order_stats as (
    select
        customer_id,
        count(*) as frequency,
        count(distinct cast(ordered_at as date)) as purchase_days,
        sum(total_amount) as monetary,
        avg(total_amount) as avg_order_value,
        max(total_amount) as max_order_value,
        date_diff('second', max(ordered_at), $cutoff) / 86400.0 as recency_days,
        date_diff('second', min(ordered_at), $cutoff) / 86400.0 as tenure_days,
        count(*) filter (where ordered_at >= $cutoff - interval 30 day)
            as orders_30d,
        count(*) filter (where ordered_at >= $cutoff - interval 90 day)
            as orders_90d,
        count(*) filter (where ordered_at >= $cutoff - interval 365 day)
            as orders_365d,
        -- Orders weighted by exp(-age / 90 days): recent habit, without a hard edge.
        sum(exp(-date_diff('second', ordered_at, $cutoff) / (86400.0 * 90)))
            as orders_decayed_90d,
        count(distinct date_trunc('week', ordered_at))
            filter (where ordered_at >= $cutoff - interval 90 day)
            as active_weeks_90d,
        count(distinct date_trunc('month', ordered_at))
            filter (where ordered_at >= $cutoff - interval 365 day)
            as active_months_365d,
        coalesce(sum(total_amount) filter (
            where ordered_at >= $cutoff - interval 90 day), 0) as spend_90d,
        coalesce(sum(total_amount) filter (
            where ordered_at >= $cutoff - interval 180 day
            and ordered_at < $cutoff - interval 90 day), 0) as spend_prev_90d,
        coalesce(sum(total_amount) filter (
            where ordered_at >= $cutoff - interval 180 day), 0) as spend_180d,
        coalesce(sum(total_amount) filter (
            where ordered_at >= $cutoff - interval 360 day
            and ordered_at < $cutoff - interval 180 day), 0) as spend_prev_180d,
        coalesce(sum(discount_amount) / nullif(
            sum(total_amount + discount_amount), 0), 0) as discount_share,
        avg(case when discount_amount > 0 then 1.0 else 0.0 end)
            as discounted_order_share
    from revenue_orders
    group by customer_id
),

non_revenue as (
    select customer_id, count(*) as non_revenue_orders
    from orders
    where not coalesce(is_revenue_order, false)
    group by customer_id
),

gaps as (
    select
        customer_id,
        avg(gap_days) as mean_gap_days,
        stddev_samp(gap_days) as std_gap_days
    from (
        select
            customer_id,
            date_diff(
                'second',
                lag(ordered_at) over (
                    partition by customer_id order by ordered_at, order_id
                ),
                ordered_at
            ) / 86400.0 as gap_days
        from revenue_orders
    ) as order_gaps
    where gap_days is not null
    group by customer_id
),

items as (
    select * from ({sources["revenue_lines"]}) as revenue_lines
    where ordered_at < $cutoff
),

product_counts as (
    select
        customer_id,
        count(distinct product_id) as n_products,
        sum(quantity) / count(distinct order_id) as avg_items_per_order,
        count(*) / count(distinct order_id) as avg_lines_per_order
    from items
    group by customer_id
),

category_ranks as (
    select
        category,
        row_number() over (order by sum(line_amount) desc, category) as global_rank
    from items
    where category is not null
    group by category
),

customer_categories as (
    select
        items.customer_id,
        items.category,
        category_ranks.global_rank as category_rank,
        sum(items.line_amount) as category_spend,
        sum(sum(items.line_amount)) over (partition by items.customer_id)
            as total_category_spend
    from items
    inner join category_ranks
        on items.category = category_ranks.category
    group by items.customer_id, items.category, category_ranks.global_rank
),

category_stats as (
    select
        customer_id,
        count(*) as n_categories,
        coalesce(max(category_spend) / nullif(max(total_category_spend), 0), 0)
            as top_category_share,
        {shares}
    from customer_categories
    group by customer_id
),

email_events as (
    select * from ({sources["email_events"]}) as source_email
    where occurred_at >= $cutoff - interval 90 day and occurred_at < $cutoff
),

email_stats as (
    select
        customer_id,
        count(*) filter (where event_type in ('sent', 'delivered'))
            as email_sent_90d,
        count(*) filter (where event_type = 'open' and not is_machine_open)
            as email_opens_90d,
        count(*) filter (where event_type = 'click') as email_clicks_90d,
        max(occurred_at) filter (
            where (event_type = 'open' and not is_machine_open)
            or event_type = 'click'
        ) as last_event_at
    from email_events
    group by customer_id
),

web_events as (
    select * from ({sources["web_events"]}) as source_web
    where occurred_at >= $cutoff - interval 90 day and occurred_at < $cutoff
),

-- Distinct counts are taken in two steps (group, then count the groups): a
-- count(distinct ...) per customer over millions of events was the slowest part.
web_days as (
    select
        customer_id,
        max(occurred_at) as last_event_at
    from web_events
    group by customer_id, anonymous_id, cast(occurred_at as date)
),

web_sessions as (
    select
        customer_id,
        count(*) filter (where last_event_at >= $cutoff - interval 30 day)
            as sessions_30d,
        count(*) as sessions_90d
    from web_days
    group by customer_id
),

viewed_products as (
    select customer_id, count(*) as products_viewed_90d
    from (
        select distinct customer_id, product_id
        from web_events
        where event_type = 'product_view'
    ) as viewed
    group by customer_id
),

web_counts as (
    select
        customer_id,
        count(*) filter (
            where event_type = 'product_view'
            and occurred_at >= $cutoff - interval 30 day
        ) as product_views_30d,
        count(*) filter (where event_type = 'product_view') as product_views_90d,
        count(*) filter (
            where event_type = 'add_to_cart'
            and occurred_at >= $cutoff - interval 30 day
        ) as cart_adds_30d,
        max(occurred_at) as last_event_at
    from web_events
    group by customer_id
),

web_stats as (
    select
        web_counts.*,
        coalesce(web_sessions.sessions_30d, 0) as sessions_30d,
        coalesce(web_sessions.sessions_90d, 0) as sessions_90d,
        coalesce(viewed_products.products_viewed_90d, 0) as products_viewed_90d
    from web_counts
    left join web_sessions on web_counts.customer_id = web_sessions.customer_id
    left join viewed_products
        on web_counts.customer_id = viewed_products.customer_id
),

-- The latest web event and email engagement before the cutoff: in its 90-day
-- window, else in a month that began 90 or more days before it (and so ended
-- before the cutoff).
latest_events as (
    select customer_id, 'web' as source, last_event_at from web_counts
    union all
    select customer_id, 'email' as source, last_event_at from email_stats
    union all
    select customer_id, 'web' as source, last_event_at
    from ({sources["web_months"]}) as web_months
    where month_start <= $cutoff - interval 90 day
    union all
    select customer_id, 'email' as source, last_event_at
    from ({sources["email_months"]}) as email_months
    where month_start <= $cutoff - interval 90 day
),

latest as (
    select
        customer_id,
        max(last_event_at) filter (where source = 'web') as last_visit_at,
        max(last_event_at) filter (where source = 'email') as last_engaged_at
    from latest_events
    group by customer_id
),

final as (
    select
        customers.customer_id,
        coalesce(order_stats.frequency, 0) as frequency,
        coalesce(order_stats.purchase_days, 0) as purchase_days,
        coalesce(order_stats.monetary, 0) as monetary,
        coalesce(order_stats.avg_order_value, 0) as avg_order_value,
        coalesce(order_stats.max_order_value, 0) as max_order_value,
        order_stats.recency_days,
        order_stats.tenure_days,
        gaps.mean_gap_days,
        gaps.std_gap_days,
        -- Time since the last order in units of the person's own typical gap
        -- (+1 day so that same-day repeat orders do not divide by zero).
        order_stats.recency_days / (gaps.mean_gap_days + 1) as recency_gap_ratio,
        coalesce(order_stats.orders_30d, 0) as orders_30d,
        coalesce(order_stats.orders_90d, 0) as orders_90d,
        coalesce(order_stats.orders_365d, 0) as orders_365d,
        coalesce(order_stats.orders_decayed_90d, 0) as orders_decayed_90d,
        coalesce(order_stats.active_weeks_90d, 0) as active_weeks_90d,
        coalesce(order_stats.active_months_365d, 0) as active_months_365d,
        coalesce(order_stats.spend_90d, 0) as spend_90d,
        coalesce(order_stats.spend_prev_90d, 0) as spend_prev_90d,
        coalesce(order_stats.spend_180d, 0) as spend_180d,
        coalesce(order_stats.spend_prev_180d, 0) as spend_prev_180d,
        coalesce(
            (order_stats.spend_180d - order_stats.spend_prev_180d)
            / nullif(order_stats.spend_180d + order_stats.spend_prev_180d, 0),
            0
        ) as spend_trend,
        coalesce(non_revenue.non_revenue_orders, 0) as non_revenue_orders,
        coalesce(
            non_revenue.non_revenue_orders
            / (coalesce(order_stats.frequency, 0) + non_revenue.non_revenue_orders),
            0
        ) as return_rate,
        coalesce(order_stats.discount_share, 0) as discount_share,
        coalesce(order_stats.discounted_order_share, 0) as discounted_order_share,
        coalesce(product_counts.n_products, 0) as n_products,
        coalesce(product_counts.avg_items_per_order, 0) as avg_items_per_order,
        coalesce(product_counts.avg_lines_per_order, 0) as avg_lines_per_order,
        coalesce(category_stats.n_categories, 0) as n_categories,
        coalesce(category_stats.top_category_share, 0) as top_category_share,
        {
        ", ".join(
            f"coalesce(category_stats.category_{rank}_share, 0) "
            f"as category_{rank}_share"
            for rank in range(1, TOP_CATEGORIES + 1)
        )
    },
        coalesce(email_stats.email_sent_90d, 0) as email_sent_90d,
        coalesce(email_stats.email_opens_90d, 0) as email_opens_90d,
        coalesce(email_stats.email_clicks_90d, 0) as email_clicks_90d,
        coalesce(
            email_stats.email_opens_90d / nullif(email_stats.email_sent_90d, 0), 0
        ) as email_open_rate_90d,
        date_diff('second', latest.last_engaged_at, $cutoff) / 86400.0
            as days_since_email_engagement,
        coalesce(web_stats.product_views_30d, 0) as product_views_30d,
        coalesce(web_stats.product_views_90d, 0) as product_views_90d,
        coalesce(web_stats.sessions_30d, 0) as sessions_30d,
        coalesce(web_stats.sessions_90d, 0) as sessions_90d,
        coalesce(web_stats.cart_adds_30d, 0) as cart_adds_30d,
        coalesce(web_stats.products_viewed_90d, 0) as products_viewed_90d,
        date_diff('second', latest.last_visit_at, $cutoff) / 86400.0
            as days_since_visit
    from customers
    left join order_stats on customers.customer_id = order_stats.customer_id
    left join non_revenue on customers.customer_id = non_revenue.customer_id
    left join gaps on customers.customer_id = gaps.customer_id
    left join product_counts on customers.customer_id = product_counts.customer_id
    left join category_stats on customers.customer_id = category_stats.customer_id
    left join email_stats on customers.customer_id = email_stats.customer_id
    left join web_stats on customers.customer_id = web_stats.customer_id
    left join latest on customers.customer_id = latest.customer_id
)

select * from final
order by customer_id
"""


def build_features(
    con: duckdb.DuckDBPyConnection,
    cutoff: date | datetime,
    sources: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per customer of ``marts.dim_customers`` with features before cutoff.

    Parameters
    ----------
    con
        Connection to a Mailroom warehouse (read-only is enough).
    cutoff
        Only rows strictly before this timestamp (a date means its midnight) are
        read. Windows such as "last 90 days" count back from it.
    sources
        SQL of the inputs, from :func:`snapshot_sources` when many cutoffs are
        built in a row; :func:`source_sql` by default.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` plus :data:`FEATURE_COLUMNS`, sorted by customer_id.
        Counts, sums and shares are 0 when a source is absent or empty;
        ``recency_days``, ``tenure_days``, gap statistics and "days since" columns
        are NaN when undefined (no order, a single order, no visit).
    """
    sql = _features_sql(sources or source_sql(con))
    frame = con.execute(sql, {"cutoff": as_timestamp(cutoff)}).df()
    frame = frame.loc[:, ["customer_id", *FEATURE_COLUMNS]]
    frame[list(FEATURE_COLUMNS)] = frame[list(FEATURE_COLUMNS)].astype("float64")
    return frame.reset_index(drop=True)


FEATURES_TABLE = "ml.customer_features"


class StaleFeaturesError(LookupError):
    """The stored feature table is missing or holds another as-of date."""


def features_table(features: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The rows :data:`FEATURES_TABLE` holds: ``features`` (from
    :func:`build_features`) stamped with the date they are as of."""
    return features.assign(as_of_date=as_of)


def read_features(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The features kept in :data:`FEATURES_TABLE` for ``as_of``: the frame
    :func:`build_features` gave, column for column and value for value.

    The table holds :func:`features_table` (written by the ``ml/customer_features``
    asset).

    Raises
    ------
    StaleFeaturesError
        If the table is missing or was built for another date.
    """
    if not has_table(con, FEATURES_TABLE):
        raise StaleFeaturesError(
            f"{FEATURES_TABLE} does not exist: materialize ml/customer_features "
            "(it runs before the other ML assets in `mailroom run`)"
        )
    dates = [
        row[0]
        for row in con.execute(
            f"select distinct as_of_date from {FEATURES_TABLE}"
        ).fetchall()
    ]
    # An empty table is as of any date only while there is no customer at all.
    no_one = not dates and (
        not has_table(con, CUSTOMERS)
        or con.execute(f"select count(*) from {CUSTOMERS}").fetchone()[0] == 0
    )
    if dates != [as_of] and not no_one:
        held = f"as of {', '.join(map(str, dates))}" if dates else "of no one"
        raise StaleFeaturesError(
            f"{FEATURES_TABLE} holds features {held}, not as of {as_of}: "
            "materialize ml/customer_features for this date first"
        )
    columns = ", ".join(["customer_id", *FEATURE_COLUMNS])
    frame = con.execute(
        f"select {columns} from {FEATURES_TABLE} order by customer_id"
    ).df()
    frame[list(FEATURE_COLUMNS)] = frame[list(FEATURE_COLUMNS)].astype("float64")
    return frame


def build_labels(
    con: duckdb.DuckDBPyConnection,
    start: date | datetime,
    end: date | datetime,
) -> pd.DataFrame:
    """Revenue orders and revenue per customer in the window ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        customer_id, window_orders, window_revenue for customers who bought.
    """
    sql = f"""
        select
            customer_id,
            count(*) as window_orders,
            sum(total_amount) as window_revenue
        from ({source_sql(con)["orders"]}) as source_orders
        where is_revenue_order and ordered_at >= $start and ordered_at < $end
        group by customer_id
        order by customer_id
    """
    return con.execute(
        sql, {"start": as_timestamp(start), "end": as_timestamp(end)}
    ).df()


def preferred_categories(
    con: duckdb.DuckDBPyConnection, cutoff: date | datetime
) -> pd.DataFrame:
    """The category each buyer spent most on before cutoff.

    Ties go to the most recent purchase, then alphabetical order, as in
    ``int_customer_category_affinity``.

    Returns
    -------
    pandas.DataFrame
        customer_id, preferred_category for buyers of categorized products.
    """
    sources = source_sql(con)
    sql = f"""
        with bought as (
            select
                orders.customer_id,
                products.category,
                sum(order_items.line_amount) as spend,
                max(orders.ordered_at) as last_bought_at
            from ({sources["orders"]}) as orders
            inner join ({sources["order_items"]}) as order_items
                on orders.order_id = order_items.order_id
            inner join ({sources["products"]}) as products
                on order_items.product_id = products.product_id
            where
                orders.is_revenue_order
                and orders.ordered_at < $cutoff
                and products.category is not null
            group by orders.customer_id, products.category
        )
        select customer_id, category as preferred_category
        from bought
        qualify row_number() over (
            partition by customer_id
            order by spend desc, last_bought_at desc, category asc
        ) = 1
        order by customer_id
    """
    return con.execute(sql, {"cutoff": as_timestamp(cutoff)}).df()
