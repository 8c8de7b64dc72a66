-- Shown in Dagster as an asset check of dim_customers.
{{ config(meta={'dagster': {'ref': {'name': 'dim_customers'}}}) }}

-- A person with no email event at all before the as-of date is never_engaged.
with

engaged as (

    select customer_id from {{ ref('int_customer_email_engagement') }}

)

select customers.customer_id, customers.engagement_tier
from {{ ref('dim_customers') }} as customers
left join engaged
    on customers.customer_id = engaged.customer_id
where engaged.customer_id is null and customers.engagement_tier != 'never_engaged'
