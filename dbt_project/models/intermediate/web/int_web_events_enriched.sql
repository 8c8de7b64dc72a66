-- One row per valid web event before the as-of date, with the person when the event
-- carries a shop customer id or email, and a flag for product ids the catalog does
-- not know (kept, never dropped: the view happened).

with

events as (

    select * from {{ ref('stg_web__events') }}
    where {{ before_as_of('occurred_at') }}

),

products as (

    select product_id from {{ ref('stg_shop__products') }}

),

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

enriched as (

    select
        events.event_id,
        identifiers.customer_id,
        events.event_type,
        events.anonymous_id,
        events.device_id,
        events.product_id,
        events.page_url,
        events.search_query,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        events.product_id is null or products.product_id is not null
            as is_known_product,
        events.occurred_at

    from events
    left join products
        on events.product_id = products.product_id
    left join identifiers
        on identifiers.identifier_key = case
            when events.shop_customer_id is not null
                then 'customer_id:' || events.shop_customer_id
            when events.email is not null
                then 'email:' || events.email
        end

)

select * from enriched
