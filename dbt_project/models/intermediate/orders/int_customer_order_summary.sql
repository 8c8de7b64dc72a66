-- One row per person with at least one revenue order before the as-of date:
-- first and last order, order count and revenue, recency in whole days.
-- Revenue orders are placed (not cancelled or refunded) with a positive total.

with

orders as (

    select * from {{ ref('int_orders_resolved') }}
    where is_revenue_order

),

summarized as (

    select
        customer_id,
        count(*) as lifetime_orders,
        max(currency) as currency,
        -- Sums typed as money, so every adapter gives them the same scale.
        cast(sum(total_amount) as {{ dbt.type_numeric() }}) as lifetime_revenue,
        cast(sum(
            case
                when ordered_at >= {{ dbt.dateadd(
                    'day', -1 * var('vip_window_days'), as_of_timestamp()
                ) }}
                    then total_amount
                else 0
            end
        ) as {{ dbt.type_numeric() }}) as recent_revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at

    from orders
    group by customer_id

),

final as (

    select
        *,
        {{ days_between('last_order_at', as_of_timestamp()) }}
            as days_since_last_order
    from summarized

)

select * from final
