-- One row per order attributed to a campaign: the recipient came to the shop
-- through a link tagged with the campaign (utm_campaign equal to the campaign id)
-- after it was sent, and ordered within campaign_attribution_window_hours of the
-- send. When several campaigns qualify, the last tagged visit before the order wins,
-- so an order is attributed once at most.

with

recipients as (

    select * from {{ ref('int_campaign_recipients') }}
    where customer_id is not null

),

tagged_visits as (

    select customer_id, lower(utm_campaign) as utm_campaign, occurred_at
    from {{ ref('int_web_events_enriched') }}
    where utm_campaign is not null and customer_id is not null

),

orders as (

    select * from {{ ref('int_orders_resolved') }}
    where is_revenue_order

),

touches as (

    select
        orders.order_id,
        recipients.campaign_id,
        recipients.variant,
        recipients.email,
        orders.customer_id,
        orders.currency,
        orders.total_amount,
        orders.ordered_at,
        tagged_visits.occurred_at as visited_at
    from recipients
    inner join tagged_visits
        on
            recipients.customer_id = tagged_visits.customer_id
            and lower(recipients.campaign_id) = tagged_visits.utm_campaign
            and recipients.sent_at <= tagged_visits.occurred_at
    inner join orders
        on
            recipients.customer_id = orders.customer_id
            and tagged_visits.occurred_at <= orders.ordered_at
            and orders.ordered_at <= {{ dbt.dateadd(
                'hour', var('campaign_attribution_window_hours'),
                'recipients.sent_at'
            ) }}

),

last_touch as (

    select
        *,
        row_number() over (
            partition by order_id
            order by visited_at desc, campaign_id asc
        ) as touch_rank
    from touches

)

select
    order_id,
    campaign_id,
    variant,
    email,
    customer_id,
    currency,
    total_amount as revenue,
    visited_at,
    ordered_at
from last_touch
where touch_rank = 1
