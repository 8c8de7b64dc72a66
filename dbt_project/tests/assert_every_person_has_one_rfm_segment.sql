-- Shown in Dagster as an asset check of fct_customer_segments.
{{ config(meta={'dagster': {'ref': {'name': 'fct_customer_segments'}}}) }}

-- Every person in dim_customers has exactly one RFM segment row, never none, never
-- two: one-time buyers and never-buyers are explicit buckets, not gaps.
with

people as (

    select customer_id from {{ ref('dim_customers') }}

),

rfm_rows as (

    select customer_id, count(*) as segments
    from {{ ref('fct_customer_segments') }}
    where segment_type = 'rfm'
    group by customer_id

)

select
    people.customer_id,
    coalesce(rfm_rows.segments, 0) as segments
from people
left join rfm_rows
    on people.customer_id = rfm_rows.customer_id
where coalesce(rfm_rows.segments, 0) != 1
