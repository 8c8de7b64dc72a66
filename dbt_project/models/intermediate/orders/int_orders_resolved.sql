-- One row per valid order placed before the as-of date, with the resolved person.
-- An order is linked through its shop customer id when it has one, else its email.

with

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where {{ before_as_of('ordered_at') }}

),

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

order_items as (

    select
        order_id,
        count(*) as item_lines,
        sum(quantity) as item_quantity,
        sum(line_amount) as items_amount
    from {{ ref('stg_shop__order_items') }}
    group by order_id

),

resolved as (

    select
        orders.order_id,
        identifiers.customer_id,
        orders.shop_customer_id,
        orders.email,
        orders.currency,
        orders.order_status,
        orders.shipping_country,
        orders.total_amount,
        orders.discount_amount,
        coalesce(order_items.item_lines, 0) as item_lines,
        coalesce(order_items.item_quantity, 0) as item_quantity,
        order_items.items_amount,
        orders.order_status = 'placed' and orders.total_amount > 0
            as is_revenue_order,
        orders.ordered_at

    from orders
    inner join identifiers
        on identifiers.identifier_key = {{ identity_key(
            'orders.shop_customer_id', 'orders.email'
        ) }}
    left join order_items
        on orders.order_id = order_items.order_id

)

select * from resolved
