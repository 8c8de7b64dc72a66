-- One row per calendar month with revenue orders before the as-of date: revenue,
-- orders and buying customers. Amounts are summed as recorded (orders are not
-- converted between currencies). No person: what dashboards read.

with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue_order

),

final as (

    select
        cast({{ dbt.date_trunc('month', 'ordered_date') }} as date) as order_month,
        count(*) as orders,
        count(distinct customer_id) as buying_customers,
        cast(sum(total_amount) as decimal(18, 2)) as revenue
    from orders
    group by cast({{ dbt.date_trunc('month', 'ordered_date') }} as date)

)

select * from final
