-- One row per order line placed before the as-of date by a known person: evidence
-- that the person bought the product then. Orders quarantined only for their amount,
-- currency or status still count here (who bought what, and when, is intact), so a
-- reminder never goes to someone whose order merely had a bad total.

with

orders as (

    select * from {{ ref('base_shop__orders') }}
    where
        (
            quarantine_reason is null
            or quarantine_reason in (
                'missing_total_amount',
                'invalid_total_amount',
                'non_positive_total_amount',
                'invalid_status',
                'invalid_currency'
            )
        )
        and {{ before_as_of('ordered_at') }}

),

items as (

    select order_id, product_id from {{ ref('stg_shop__order_items') }}

),

identifiers as (

    select * from {{ ref('int_identity_components') }}

)

select distinct
    identifiers.customer_id,
    orders.order_id,
    items.product_id,
    orders.ordered_at
from orders
inner join identifiers
    on identifiers.identifier_key = {{ identity_key(
        'orders.shop_customer_id', 'orders.email'
    ) }}
inner join items
    on orders.order_id = items.order_id
