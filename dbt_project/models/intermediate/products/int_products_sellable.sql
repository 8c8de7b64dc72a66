-- One row per product that may be recommended: active and in stock.

with

products as (

    select * from {{ ref('stg_shop__products') }}

)

select * from products
where is_active and is_in_stock
