-- One row per anonymous web id seen before the as-of date with the person it belongs
-- to: the person of the shop customer id or email that events of this anonymous id
-- carried (an `identify` event, or browsing while logged in). All of the id's
-- events, before and after it identified, then belong to that person. An id seen
-- with more than anonymous_id_max_people people is a shared device: no one.

with

events as (

    select * from {{ ref('stg_web__events') }}
    where anonymous_id is not null and {{ before_as_of('occurred_at') }}

),

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

identified as (

    select
        events.anonymous_id,
        identifiers.customer_id,
        min(events.occurred_at) as first_identified_at
    from events
    inner join identifiers
        on identifiers.identifier_key = {{ identity_key(
            'events.shop_customer_id', 'events.email'
        ) }}
    group by events.anonymous_id, identifiers.customer_id

),

per_anonymous_id as (

    select
        anonymous_id,
        min(customer_id) as customer_id,
        count(*) as people,
        min(first_identified_at) as first_identified_at
    from identified
    group by anonymous_id

)

select
    anonymous_id,
    customer_id,
    first_identified_at
from per_anonymous_id
where people <= {{ var('anonymous_id_max_people') }}
