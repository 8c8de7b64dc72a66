-- One row per person per product they viewed at least browse_abandoner_min_views
-- times within abandonment_lookback_days before the as-of date, never put in the
-- cart since the first of those views, and did not order within
-- abandonment_window_hours after the last view (which must have fully elapsed).

with

events as (

    select * from {{ ref('int_web_events_enriched') }}
    where
        customer_id is not null
        and product_id is not null
        and occurred_at >= {{ dbt.dateadd(
            'day', -1 * var('abandonment_lookback_days'), as_of_timestamp()
        ) }}

),

views as (

    select
        customer_id,
        product_id,
        count(*) as views,
        min(occurred_at) as first_viewed_at,
        max(occurred_at) as last_viewed_at
    from events
    where event_type = 'product_view'
    group by customer_id, product_id

),

carts as (

    select customer_id, product_id, max(occurred_at) as last_added_at
    from events
    where event_type = 'add_to_cart'
    group by customer_id, product_id

),

ordered_products as (

    select * from {{ ref('int_order_product_purchases') }}

),

candidates as (

    select
        views.*,
        {{ dbt.dateadd(
            'second', abandonment_window_seconds(), 'views.last_viewed_at'
        ) }} as window_ends_at
    from views
    left join carts
        on
            views.customer_id = carts.customer_id
            and views.product_id = carts.product_id
            and views.first_viewed_at <= carts.last_added_at
    where
        views.views >= {{ var('browse_abandoner_min_views') }}
        and carts.customer_id is null

),

final as (

    select
        candidates.customer_id,
        candidates.product_id,
        candidates.views,
        candidates.first_viewed_at,
        candidates.last_viewed_at,
        candidates.window_ends_at
    from candidates
    left join ordered_products
        on
            candidates.customer_id = ordered_products.customer_id
            and candidates.product_id = ordered_products.product_id
            and candidates.first_viewed_at < ordered_products.ordered_at
            and candidates.window_ends_at >= ordered_products.ordered_at
    where
        ordered_products.customer_id is null
        and candidates.window_ends_at <= {{ as_of_timestamp() }}

)

select * from final
