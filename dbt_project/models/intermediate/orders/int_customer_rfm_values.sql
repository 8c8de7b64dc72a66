-- One row per person with a revenue order in the RFM window (rfm_window_days before
-- the as-of date; all history when null): recency in whole days since the last
-- revenue order, frequency (revenue orders) and monetary value net of cancellations
-- and refunds. A cancelled or refunded order with a negative total is a credit note
-- for an earlier order and is subtracted; one with a positive total was voided and
-- counts for nothing.

with

orders as (

    select * from {{ ref('int_orders_resolved') }}
    {% if var('rfm_window_days') is not none %}
        where ordered_at >= {{ dbt.dateadd(
            'day', -1 * var('rfm_window_days'), as_of_timestamp()
        ) }}
    {% endif %}

),

per_customer as (

    select
        customer_id,
        count(case when is_revenue_order then 1 end) as frequency,
        -- Typed as money, so every adapter gives it the same scale.
        cast(sum(
            case
                when is_revenue_order then total_amount
                when total_amount < 0 then total_amount
                else 0
            end
        ) as {{ dbt.type_numeric() }}) as monetary,
        max(case when is_revenue_order then ordered_at end) as last_order_at
    from orders
    group by customer_id

),

final as (

    select
        customer_id,
        {{ days_between('last_order_at', as_of_timestamp()) }} as recency_days,
        frequency,
        monetary,
        last_order_at
    from per_customer
    where frequency > 0

)

select * from final
