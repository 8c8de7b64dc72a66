-- One row per web session (session_inactivity_minutes of inactivity ends one), with
-- its person when known, its events, product views and carts.

with

events as (

    select * from {{ ref('int_web_events_enriched') }}

),

sessions as (

    select
        session_id,
        max(customer_id) as customer_id,
        count(*) as events,
        count(case when event_type = 'product_view' then 1 end) as product_views,
        count(case when event_type = 'add_to_cart' then 1 end) as cart_adds,
        sum(
            case when event_type = 'product_view' then product_price else 0 end
        ) as viewed_value,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at
    from events
    group by session_id

)

select * from sessions
