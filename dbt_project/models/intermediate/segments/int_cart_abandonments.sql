-- One row per add-to-cart by a known person in the cart_history_days before the
-- as-of date, and whether it
-- was abandoned: its abandonment_window_hours have fully elapsed before the as-of
-- date and the person placed no order containing that product within them. An order
-- at exactly the end of the window still counts as a purchase ("within 48 h").
-- Orders of any status count (a cancelled checkout is not an abandoned cart), and so
-- do orders quarantined only for their amount (int_order_product_purchases).

with

cart_adds as (

    select * from {{ ref('int_web_events_enriched') }}
    where
        event_type = 'add_to_cart'
        and customer_id is not null
        and occurred_at >= {{ dbt.dateadd(
            'day', -1 * var('cart_history_days'), as_of_timestamp()
        ) }}

),

ordered_products as (

    select * from {{ ref('int_order_product_purchases') }}

),

windows as (

    select
        event_id,
        customer_id,
        product_id,
        occurred_at as added_at,
        {{ dbt.dateadd(
            'second', abandonment_window_seconds(), 'occurred_at'
        ) }} as window_ends_at
    from cart_adds

),

purchases as (

    select distinct windows.event_id
    from windows
    inner join ordered_products
        on
            windows.customer_id = ordered_products.customer_id
            and windows.product_id = ordered_products.product_id
            and windows.added_at < ordered_products.ordered_at
            and windows.window_ends_at >= ordered_products.ordered_at

),

final as (

    select
        windows.event_id,
        windows.customer_id,
        windows.product_id,
        purchases.event_id is not null as is_purchased_within_window,
        windows.window_ends_at <= {{ as_of_timestamp() }} as is_window_elapsed,
        windows.window_ends_at <= {{ as_of_timestamp() }}
        and purchases.event_id is null as is_abandoned,
        windows.added_at,
        windows.window_ends_at

    from windows
    left join purchases
        on windows.event_id = purchases.event_id

)

select * from final
