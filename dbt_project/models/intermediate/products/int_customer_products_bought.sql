-- One row per person per product they bought in a revenue order before the as-of
-- date, with the units and spend, for category affinity and "not bought yet" picks.

with

orders as (

    select * from {{ ref('int_orders_resolved') }}
    where is_revenue_order

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

bought as (

    select
        orders.customer_id,
        order_items.product_id,
        products.category,
        products.product_id is not null as is_known_product,
        sum(order_items.quantity) as units,
        sum(order_items.line_amount) as spend,
        max(orders.ordered_at) as last_bought_at

    from orders
    inner join order_items
        on orders.order_id = order_items.order_id
    left join products
        on order_items.product_id = products.product_id
    group by 1, 2, 3, 4

)

select * from bought
