-- Staged rows that point at a parent nobody delivered: an order line of an unknown
-- order or product, a web event about an unknown product, an ESP event of an unknown
-- campaign. Flagged, not quarantined: the fact itself is intact and the parent may
-- arrive in a later file. See the orphan_check macro.
with

items_of_unknown_orders as (

    {{ orphan_check(
        'order_items', 'stg_shop__order_items', 'order_item_id', 'order_id',
        'stg_shop__orders', 'unknown_order_id'
    ) }}

),

items_of_unknown_products as (

    {{ orphan_check(
        'order_items', 'stg_shop__order_items', 'order_item_id', 'product_id',
        'stg_shop__products', 'unknown_product_id'
    ) }}

),

web_events_of_unknown_products as (

    {{ orphan_check(
        'web_events', 'stg_web__events', 'event_id', 'product_id',
        'stg_shop__products', 'unknown_product_id'
    ) }}

),

email_events_of_unknown_campaigns as (

    {{ orphan_check(
        'email_events', 'stg_esp__email_events', 'event_id', 'campaign_id',
        'stg_esp__campaigns', 'unknown_campaign_id'
    ) }}

),

unioned as (

    select * from items_of_unknown_orders
    union all
    select * from items_of_unknown_products
    union all
    select * from web_events_of_unknown_products
    union all
    select * from email_events_of_unknown_campaigns

)

select * from unioned
