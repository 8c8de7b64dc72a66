-- One row per person who bought a catalogued product: the category they spent most
-- on before the as-of date (ties go to the most recent, then alphabetical).

with

bought as (

    select * from {{ ref('int_customer_products_bought') }}
    where category is not null

),

by_category as (

    select
        customer_id,
        category,
        sum(spend) as category_spend,
        max(last_bought_at) as last_bought_at
    from bought
    group by customer_id, category

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by category_spend desc, last_bought_at desc, category asc
        ) as category_rank
    from by_category

)

select
    customer_id,
    category as preferred_category,
    category_spend as preferred_category_spend
from ranked
where category_rank = 1
