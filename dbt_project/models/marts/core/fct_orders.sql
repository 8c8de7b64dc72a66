with

orders as (

    select * from {{ ref('int_orders_resolved') }}

),

final as (

    select
        order_id,
        customer_id,
        shop_customer_id,
        currency,
        order_status,
        shipping_country,
        total_amount,
        discount_amount,
        items_amount,
        item_lines,
        -- A sum of integers is a hugeint on DuckDB and a numeric on PostgreSQL.
        cast(item_quantity as bigint) as item_quantity,
        is_revenue_order,
        cast(ordered_at as date) as ordered_date,
        ordered_at

    from orders

)

select * from final
