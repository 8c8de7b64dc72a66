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

predictions as (

    select * from {{ ref('stg_ml__customer_predictions') }}

),

products as (

    select * from {{ ref('int_products_sellable') }}

),

-- The most recent abandoned cart within the lookback whose product is still on sale.
cart_ranked as (

    select
        carts.customer_id,
        carts.product_id,
        row_number() over (
            partition by carts.customer_id
            order by carts.added_at desc, carts.product_id asc
        ) as cart_rank
    from {{ ref('int_cart_abandonments') }} as carts
    inner join products
        on carts.product_id = products.product_id
    where
        carts.is_abandoned
        and carts.window_ends_at >= {{ dbt.dateadd(
            'day', -1 * var('abandonment_lookback_days'), as_of_timestamp()
        ) }}

),

-- The most viewed browse-abandoned product still on sale.
browse_ranked as (

    select
        browsed.customer_id,
        browsed.product_id,
        row_number() over (
            partition by browsed.customer_id
            order by
                browsed.views desc,
                browsed.last_viewed_at desc,
                browsed.product_id asc
        ) as browse_rank
    from {{ ref('int_browse_abandonments') }} as browsed
    inner join products
        on browsed.product_id = products.product_id

),

-- One due journey per person, the most urgent first.
journeys_ranked as (

    select
        customer_id,
        journey,
        step_key,
        row_number() over (
            partition by customer_id
            order by
                case journey
                    when 'abandoned_cart' then 1
                    when 'browse_abandonment' then 2
                    when 'welcome' then 3
                    when 'post_purchase' then 4
                    else 5
                end,
                due_at desc
        ) as journey_rank
    from {{ ref('fct_journeys_due') }}

),

final as (

    select
        customers.customer_id,
        customers.email,
        customers.first_name,
        customers.last_name,
        customers.email_consent_status as consent_status,
        rfm.rfm_segment,
        clusters.cluster_name,
        customers.engagement_tier,
        coalesce(
            category_affinity.preferred_category,
            predictions.predicted_preferred_category
        ) as preferred_category,
        predictions.churn_band,
        predictions.prediction_source,
        journeys_ranked.journey as due_journey,
        journeys_ranked.step_key as due_journey_step,
        cart_products.product_id as cart_product_id,
        cart_products.product_name as cart_product_name,
        cart_products.product_url as cart_product_url,
        cart_products.image_url as cart_product_image_url,
        browse_products.product_id as browse_product_id,
        browse_products.product_name as browse_product_name,
        browse_products.product_url as browse_product_url,
        browse_products.image_url as browse_product_image_url,
        coalesce(rfm.r_score, 0) as r_score,
        coalesce(rfm.f_score, 0) as f_score,
        coalesce(rfm.m_score, 0) as m_score,
        customers.lifetime_orders,
        customers.lifetime_revenue,
        coalesce(customers.currency, '{{ var("default_currency") }}') as currency,
        customers.days_since_last_order,
        predictions.purchase_probability,
        predictions.churn_probability,
        predictions.predicted_clv,
        vips.customer_id is not null as is_vip,
        rfm.as_of_date,
        predictions.expected_next_order_date,
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
    left join predictions
        on customers.customer_id = predictions.customer_id
    left join cart_ranked
        on
            customers.customer_id = cart_ranked.customer_id
            and cart_ranked.cart_rank = 1
    left join products as cart_products
        on cart_ranked.product_id = cart_products.product_id
    left join browse_ranked
        on
            customers.customer_id = browse_ranked.customer_id
            and browse_ranked.browse_rank = 1
    left join products as browse_products
        on browse_ranked.product_id = browse_products.product_id
    left join journeys_ranked
        on
            customers.customer_id = journeys_ranked.customer_id
            and journeys_ranked.journey_rank = 1

)

select * from final
