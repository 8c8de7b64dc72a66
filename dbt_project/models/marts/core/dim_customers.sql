with

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

shop_customers as (

    select * from {{ ref('stg_shop__customers') }}
    where created_at is null or {{ before_as_of('created_at') }}

),

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}
    where created_at is null or {{ before_as_of('created_at') }}

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

consent_state as (

    select * from {{ ref('int_email_consent_state') }}

),

people as (

    select
        customer_id,
        count(case when id_type = 'customer_id' then 1 end) as shop_account_count,
        count(case when id_type = 'contact_id' then 1 end) as crm_contact_count,
        count(case when id_type = 'email' then 1 end) as email_count
    from identifiers
    group by customer_id

),

-- Survivorship: the email seen most recently wins.
emails_ranked as (

    select
        identifiers.customer_id,
        record_identifiers.id_value as email,
        row_number() over (
            partition by identifiers.customer_id
            order by
                record_identifiers.seen_at desc nulls last,
                record_identifiers.id_value asc
        ) as email_rank
    from record_identifiers
    inner join identifiers
        on record_identifiers.identifier_key = identifiers.identifier_key
    where record_identifiers.id_type = 'email'

),

best_email as (

    select customer_id, email from emails_ranked
    where email_rank = 1

),

-- Survivorship: names and phone from the latest shop account, else the latest CRM
-- contact.
profiles as (

    select
        identifiers.customer_id,
        shop_customers.first_name,
        shop_customers.last_name,
        shop_customers.phone,
        shop_customers.country,
        1 as source_priority,
        shop_customers.created_at as updated_at
    from shop_customers
    inner join identifiers
        on identifiers.identifier_key = 'customer_id:' || shop_customers.shop_customer_id

    union all

    select
        identifiers.customer_id,
        crm_contacts.first_name,
        crm_contacts.last_name,
        crm_contacts.phone,
        crm_contacts.country,
        2 as source_priority,
        coalesce(crm_contacts.updated_at, crm_contacts.created_at) as updated_at
    from crm_contacts
    inner join identifiers
        on identifiers.identifier_key = 'contact_id:' || crm_contacts.contact_id

),

profiles_ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by
                case when first_name is not null then 0 else 1 end,
                source_priority asc,
                updated_at desc nulls last
        ) as profile_rank
    from profiles

),

best_profile as (

    select * from profiles_ranked
    where profile_rank = 1

),

-- The person's most recent word on consent across all their addresses; an opt-out
-- on an old address still counts if it is the latest thing they said.
person_consent_ranked as (

    select
        emails_ranked.customer_id,
        consent_state.consent_status,
        row_number() over (
            partition by emails_ranked.customer_id
            order by
                consent_state.consent_changed_at desc,
                case when consent_state.consent_status = 'opted_out' then 0 else 1 end
        ) as consent_rank
    from emails_ranked
    inner join consent_state
        on emails_ranked.email = consent_state.email
    where consent_state.consent_status != 'unknown'

),

person_consent as (

    select customer_id, consent_status
    from person_consent_ranked
    where consent_rank = 1

),

final as (

    select
        people.customer_id,
        best_email.email,
        best_profile.first_name,
        best_profile.last_name,
        best_profile.phone,
        best_profile.country,
        coalesce(consent_state.consent_status, 'unknown') as email_consent_status,
        coalesce(person_consent.consent_status, 'unknown') as person_consent_status,
        people.shop_account_count,
        people.crm_contact_count,
        people.email_count,
        coalesce(order_summary.lifetime_orders, 0) as lifetime_orders,
        coalesce(order_summary.lifetime_revenue, 0) as lifetime_revenue,
        order_summary.currency,
        order_summary.days_since_last_order,
        coalesce(consent_state.is_suppressed, false) as is_email_suppressed,
        coalesce(
            best_email.email is not null
            and consent_state.consent_status = 'opted_in'
            and not consent_state.is_suppressed
            and person_consent.consent_status = 'opted_in',
            false
        ) as is_email_sendable,
        order_summary.first_order_at,
        order_summary.last_order_at,
        consent_state.consent_changed_at

    from people
    left join best_email
        on people.customer_id = best_email.customer_id
    left join best_profile
        on people.customer_id = best_profile.customer_id
    left join consent_state
        on best_email.email = consent_state.email
    left join person_consent
        on people.customer_id = person_consent.customer_id
    left join order_summary
        on people.customer_id = order_summary.customer_id

)

select * from final
