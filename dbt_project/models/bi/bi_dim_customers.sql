{{ config(alias='dim_customers') }}

-- One row per resolved person, as marts.dim_customers, for BI: the email only as a
-- SHA-256 of the normalized address, the first name as its initial, the last name
-- left out, the phone masked but for its last two digits.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

final as (

    select
        customer_id,
        {{ mailroom.hash_email('email') }} as email_sha256,
        {{ mailroom.name_initial('first_name') }} as first_name_initial,
        {{ mailroom.mask_phone('phone') }} as phone_masked,
        country,
        email_consent_status,
        person_consent_status,
        engagement_tier,
        preferred_category_by_spend,
        preferred_category_by_views,
        last_purchased_category,
        shop_account_count,
        crm_contact_count,
        email_count,
        lifetime_orders,
        lifetime_revenue,
        currency,
        days_since_last_order,
        average_order_value,
        average_days_between_orders,
        discount_affinity,
        preferred_send_hour_utc,
        email is not null as has_email,
        phone is not null as has_phone,
        is_email_suppressed,
        is_email_sendable,
        first_order_at,
        last_order_at,
        consent_changed_at

    from customers

)

select * from final
