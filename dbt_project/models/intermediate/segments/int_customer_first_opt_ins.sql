-- One row per person who ever opted in to marketing email before the as-of date:
-- the first opt-in across all their addresses.

with

consent_events as (

    select * from {{ ref('int_email_consent_events') }}
    where consent_status = 'opted_in'

),

emails as (

    select id_value as email, customer_id
    from {{ ref('int_identity_components') }}
    where id_type = 'email'

)

select
    emails.customer_id,
    min(consent_events.occurred_at) as first_opted_in_at
from consent_events
inner join emails
    on consent_events.email = emails.email
group by emails.customer_id
