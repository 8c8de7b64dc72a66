-- One row per sendable recipient: a person with a usable email address, an opt-in
-- as their latest word on consent, and no bounce or complaint on that address.
-- Everything a template may use, and nothing about anyone else.

with

customers as (

    select * from {{ ref('dim_customers') }}
    where is_email_sendable

),

rfm as (

    select * from {{ ref('fct_customer_rfm') }}

),

clusters as (

    select * from {{ ref('stg_ml__customer_clusters') }}

),

category_affinity as (

    select * from {{ ref('int_customer_category_affinity') }}

),

vips as (

    select customer_id from {{ ref('fct_customer_segments') }}
    where segment = 'vip'

),

final as (

    select
        customers.customer_id,
        customers.email,
        customers.first_name,
        customers.last_name,
        rfm.rfm_segment,
        clusters.cluster_name,
        category_affinity.preferred_category,
        coalesce(rfm.r_score, 0) as r_score,
        coalesce(rfm.f_score, 0) as f_score,
        coalesce(rfm.m_score, 0) as m_score,
        customers.lifetime_orders,
        customers.lifetime_revenue,
        coalesce(customers.currency, '{{ var("default_currency") }}') as currency,
        customers.days_since_last_order,
        vips.customer_id is not null as is_vip,
        rfm.as_of_date,
        customers.last_order_at

    from customers
    inner join rfm
        on customers.customer_id = rfm.customer_id
    left join clusters
        on customers.customer_id = clusters.customer_id
    left join category_affinity
        on customers.customer_id = category_affinity.customer_id
    left join vips
        on customers.customer_id = vips.customer_id

)

select * from final
