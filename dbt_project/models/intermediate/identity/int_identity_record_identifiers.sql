-- One row per source record per identifier it carries: the evidence that two
-- identifiers belong to the same person. A record is a shop account, a CRM
-- contact, or the orders of one account under one email (record_count of them).
-- Only records from before the as-of date.
-- Phones link in their E.164 form, or as digits when the library could not place
-- them; see the phone_identifier macro.

with

shop_customers as (

    select
        *,
        {{ phone_identifier('phone', 'phone_e164') }} as phone_key
    from {{ ref('stg_shop__customers') }}
    where created_at is null or {{ before_as_of('created_at') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where {{ before_as_of('ordered_at') }}

),

crm_contacts as (

    select
        *,
        {{ phone_identifier('phone', 'phone_e164') }} as phone_key
    from {{ ref('stg_crm__contacts') }}
    where created_at is null or {{ before_as_of('created_at') }}

),

shop_customer_identifiers as (

    select
        'customers' as source_name,
        'customers:' || shop_customer_id as record_id,
        'customer_id' as id_type,
        shop_customer_id as id_value,
        1 as record_count,
        created_at as first_seen_at,
        created_at as last_seen_at
    from shop_customers

    union all

    select
        'customers' as source_name,
        'customers:' || shop_customer_id as record_id,
        'email' as id_type,
        email as id_value,
        1 as record_count,
        created_at as first_seen_at,
        created_at as last_seen_at
    from shop_customers
    where email is not null

    union all

    select
        'customers' as source_name,
        'customers:' || shop_customer_id as record_id,
        'phone' as id_type,
        phone_key as id_value,
        1 as record_count,
        created_at as first_seen_at,
        created_at as last_seen_at
    from shop_customers
    where phone_key is not null

),

-- Orders of one account under one email carry the same evidence: they are one
-- record, named after the smallest order id and counting them all, which keeps this
-- table (and every identity model after it) the size of the people rather than
-- of their orders.
order_records as (

    select
        shop_customer_id,
        email,
        'orders:' || min(order_id) as record_id,
        count(*) as record_count,
        min(ordered_at) as first_seen_at,
        max(ordered_at) as last_seen_at
    from orders
    where shop_customer_id is not null or email is not null
    group by shop_customer_id, email

),

order_identifiers as (

    select
        'orders' as source_name,
        record_id,
        'customer_id' as id_type,
        shop_customer_id as id_value,
        record_count,
        first_seen_at,
        last_seen_at
    from order_records
    where shop_customer_id is not null

    union all

    select
        'orders' as source_name,
        record_id,
        'email' as id_type,
        email as id_value,
        record_count,
        first_seen_at,
        last_seen_at
    from order_records
    where email is not null

),

crm_contact_identifiers as (

    select
        'crm_contacts' as source_name,
        'crm_contacts:' || contact_id as record_id,
        'contact_id' as id_type,
        contact_id as id_value,
        1 as record_count,
        coalesce(updated_at, created_at) as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at
    from crm_contacts

    union all

    select
        'crm_contacts' as source_name,
        'crm_contacts:' || contact_id as record_id,
        'email' as id_type,
        email as id_value,
        1 as record_count,
        coalesce(updated_at, created_at) as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at
    from crm_contacts
    where email is not null

    union all

    select
        'crm_contacts' as source_name,
        'crm_contacts:' || contact_id as record_id,
        'phone' as id_type,
        phone_key as id_value,
        1 as record_count,
        coalesce(updated_at, created_at) as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at
    from crm_contacts
    where phone_key is not null

),

unioned as (

    select * from shop_customer_identifiers
    union all
    select * from order_identifiers
    union all
    select * from crm_contact_identifiers

),

final as (

    select
        source_name,
        record_id,
        id_type,
        id_value,
        id_type || ':' || id_value as identifier_key,
        record_count,
        first_seen_at,
        last_seen_at
    from unioned

)

select * from final
