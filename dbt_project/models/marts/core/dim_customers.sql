with

identifiers as (

    select * from {{ ref('int_identity_components') }}

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

contact as (

    select * from {{ ref('int_customer_email_consent') }}

),

traits as (

    select * from {{ ref('int_customer_traits') }}

),

engagement as (

    select * from {{ ref('int_customer_email_engagement') }}

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

-- Survivorship: names and phone from the record with the most complete name; among
-- equals the shop account, else the latest CRM contact.
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
                -- The most complete name first, then the shop account, then the
                -- latest record.
                case when first_name is not null then 1 else 0 end
                + case when last_name is not null then 1 else 0 end desc,
                source_priority asc,
                updated_at desc nulls last
        ) as profile_rank
    from profiles

),

best_profile as (

    select * from profiles_ranked
    where profile_rank = 1

),

final as (

    select
        people.customer_id,
        contact.email,
        best_profile.first_name,
        best_profile.last_name,
        best_profile.phone,
        best_profile.country,
        coalesce(contact.email_consent_status, 'unknown') as email_consent_status,
        coalesce(contact.person_consent_status, 'unknown') as person_consent_status,
        coalesce(engagement.engagement_tier, 'never_engaged') as engagement_tier,
        traits.preferred_category_by_spend,
        traits.preferred_category_by_views,
        traits.last_purchased_category,
        people.shop_account_count,
        people.crm_contact_count,
        people.email_count,
        coalesce(order_summary.lifetime_orders, 0) as lifetime_orders,
        coalesce(order_summary.lifetime_revenue, 0) as lifetime_revenue,
        order_summary.currency,
        order_summary.days_since_last_order,
        -- Doubles on every engine (PostgreSQL's averages are numeric): the contract.
        cast(traits.average_order_value as double precision) as average_order_value,
        cast(traits.average_days_between_orders as double precision)
            as average_days_between_orders,
        cast(traits.discount_affinity as double precision) as discount_affinity,
        traits.preferred_send_hour_utc,
        coalesce(contact.is_email_suppressed, false) as is_email_suppressed,
        coalesce(contact.is_email_sendable, false) as is_email_sendable,
        order_summary.first_order_at,
        order_summary.last_order_at,
        contact.consent_changed_at

    from people
    left join contact
        on people.customer_id = contact.customer_id
    left join best_profile
        on people.customer_id = best_profile.customer_id
    left join order_summary
        on people.customer_id = order_summary.customer_id
    left join traits
        on people.customer_id = traits.customer_id
    left join engagement
        on people.customer_id = engagement.customer_id

)

select * from final
