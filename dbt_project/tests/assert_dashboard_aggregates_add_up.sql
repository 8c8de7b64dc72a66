-- Shown in Dagster as an asset check of fct_segment_sizes.
{{ config(meta={'dagster': {'ref': {'name': 'fct_segment_sizes'}}}) }}

-- The dashboard's aggregates count everyone once: the rfm segment sizes add up to
-- the people in dim_customers, the RFM grid to the scored buyers, and the monthly
-- orders to the revenue orders.
with

checks as (

    select
        'rfm segment sizes' as aggregate_name,
        (
            select sum(customers) from {{ ref('fct_segment_sizes') }}
            where segment_type = 'rfm'
        ) as aggregated,
        (select count(*) from {{ ref('dim_customers') }}) as expected

    union all

    select
        'rfm grid' as aggregate_name,
        (select sum(customers) from {{ ref('fct_rfm_grid') }}) as aggregated,
        (
            select count(*) from {{ ref('fct_customer_rfm') }}
            where r_score is not null and f_score is not null
        ) as expected

    union all

    select
        'monthly orders' as aggregate_name,
        (select sum(orders) from {{ ref('fct_orders_monthly') }}) as aggregated,
        (
            select count(*) from {{ ref('fct_orders') }}
            where is_revenue_order
        ) as expected

)

select * from checks
where coalesce(aggregated, 0) != expected
