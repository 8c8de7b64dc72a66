-- One row per valid web event before the as-of date, with:
-- * the person: by the event's shop customer id or email, else by its anonymous id
--   once that id identified (int_web_anonymous_ids_resolved);
-- * the session: a new one starts after session_inactivity_minutes without an
--   event of the same anonymous id (or device, when there is no anonymous id);
-- * is_known_product, false for product ids the catalog does not know (kept, never
--   dropped: the view happened), and the product's price and category.

with

events as (

    select
        *,
        coalesce(anonymous_id, device_id, shop_customer_id, email) as visitor_key
    from {{ ref('stg_web__events') }}
    where {{ before_as_of('occurred_at') }}

),

products as (

    select product_id, category, price from {{ ref('stg_shop__products') }}

),

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

anonymous_ids as (

    select * from {{ ref('int_web_anonymous_ids_resolved') }}

),

session_starts as (

    select
        *,
        case
            when
                lag(occurred_at) over (
                    partition by visitor_key order by occurred_at, event_id
                ) >= {{ dbt.dateadd(
                'minute', -1 * var('session_inactivity_minutes'), 'occurred_at'
            ) }}
                then 0
            else 1
        end as is_session_start
    from events

),

sessionized as (

    select
        *,
        sum(is_session_start) over (
            partition by visitor_key
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts

),

enriched as (

    select
        sessionized.event_id,
        coalesce(identifiers.customer_id, anonymous_ids.customer_id) as customer_id,
        {{ dbt.concat([
            'sessionized.visitor_key', "'#'",
            'cast(sessionized.session_number as ' ~ dbt.type_string() ~ ')'
        ]) }} as session_id,
        sessionized.event_type,
        sessionized.anonymous_id,
        sessionized.device_id,
        sessionized.product_id,
        products.category as product_category,
        sessionized.page_url,
        sessionized.search_query,
        sessionized.utm_source,
        sessionized.utm_medium,
        sessionized.utm_campaign,
        products.price as product_price,
        sessionized.product_id is null or products.product_id is not null
            as is_known_product,
        sessionized.occurred_at

    from sessionized
    left join products
        on sessionized.product_id = products.product_id
    left join identifiers
        on identifiers.identifier_key = {{ identity_key(
            'sessionized.shop_customer_id', 'sessionized.email'
        ) }}
    left join anonymous_ids
        on sessionized.anonymous_id = anonymous_ids.anonymous_id

)

select * from enriched
