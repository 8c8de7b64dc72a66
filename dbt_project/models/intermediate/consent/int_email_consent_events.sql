-- One row per event that says whether an email address may receive marketing email,
-- before the as-of date: the consent ledger (email channel), shop accounts' accepts
-- marketing flag, and the ESP's unsubscribes, bounces and spam complaints.

with

ledger as (

    select * from {{ ref('stg_crm__consents') }}
    where channel = 'email' and {{ before_as_of('captured_at') }}

),

crm_contacts as (

    select contact_id, email from {{ ref('stg_crm__contacts') }}
    where email is not null

),

shop_customers as (

    select * from {{ ref('stg_shop__customers') }}
    where
        email is not null
        and accepts_marketing is not null
        and {{ before_as_of('coalesce(created_at, loaded_at)') }}

),

email_events as (

    select * from {{ ref('stg_esp__email_events') }}
    where
        event_type in ('unsubscribe', 'bounce', 'spam_complaint')
        and {{ before_as_of('occurred_at') }}

),

ledger_events as (

    select
        coalesce(ledger.email, crm_contacts.email) as email,
        ledger.consent_status,
        'consent_ledger' as evidence,
        ledger.captured_at as occurred_at
    from ledger
    left join crm_contacts
        on ledger.contact_id = crm_contacts.contact_id
    where coalesce(ledger.email, crm_contacts.email) is not null

),

-- An address several shop accounts share (a household) is opted in only by the
-- ledger: one account's tick cannot speak for the other people who read it. An
-- opt-out from any of the accounts counts.
shared_emails as (

    select email
    from shop_customers
    group by email
    having count(distinct shop_customer_id) > 1

),

shop_account_events as (

    select
        email,
        case when accepts_marketing then 'opted_in' else 'opted_out' end
            as consent_status,
        'shop_accepts_marketing' as evidence,
        coalesce(created_at, loaded_at) as occurred_at
    from shop_customers
    where
        not accepts_marketing
        or email not in (select shared_emails.email from shared_emails)

),

esp_events as (

    select
        email,
        case
            when event_type = 'unsubscribe' then 'opted_out'
            else 'suppressed'
        end as consent_status,
        'esp_' || event_type as evidence,
        occurred_at
    from email_events

),

unioned as (

    select * from ledger_events
    union all
    select * from shop_account_events
    union all
    select * from esp_events

)

select * from unioned
