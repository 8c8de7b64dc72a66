-- One row per sellable product: units sold in the popular_products_window_days before
-- the as-of date, ranked within its category and overall (ties by product id).

with

products as (

    select * from {{ ref('int_products_sellable') }}

),

recent_units as (

    select
        order_items.product_id,
        sum(order_items.quantity) as units_sold
    from {{ ref('stg_shop__order_items') }} as order_items
    inner join {{ ref('int_orders_resolved') }} as orders
        on order_items.order_id = orders.order_id
    where
        orders.is_revenue_order
        and orders.ordered_at >= {{ dbt.dateadd(
            'day', -1 * var('popular_products_window_days'), as_of_timestamp()
        ) }}
    group by order_items.product_id

),

final as (

    select
        products.product_id,
        products.product_name,
        products.category,
        products.price,
        products.currency,
        products.product_url,
        products.image_url,
        coalesce(recent_units.units_sold, 0) as units_sold,
        row_number() over (
            partition by products.category
            order by coalesce(recent_units.units_sold, 0) desc, products.product_id
        ) as category_rank,
        row_number() over (
            order by coalesce(recent_units.units_sold, 0) desc, products.product_id
        ) as overall_rank

    from products
    left join recent_units
        on products.product_id = recent_units.product_id

)

select * from final
