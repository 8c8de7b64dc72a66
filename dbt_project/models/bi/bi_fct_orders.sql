{{ config(alias='fct_orders') }}

-- One row per order, as marts.fct_orders, for BI: without the shop's account id
-- (customer_id is Mailroom's own person id).

with

orders as (

    select * from {{ ref('fct_orders') }}

),

final as (

    select
        order_id,
        customer_id,
        currency,
        order_status,
        shipping_country,
        total_amount,
        discount_amount,
        items_amount,
        item_lines,
        item_quantity,
        is_revenue_order,
        ordered_date,
        ordered_at

    from orders

)

select * from final
