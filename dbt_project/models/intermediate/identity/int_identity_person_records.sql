-- One row per record that describes a person (shop account, CRM contact), with the
-- fields fuzzy matching compares, normalized, and the exact component it belongs to.
-- Only records from before the as-of date.

with

shop_customers as (

    select * from {{ ref('stg_shop__customers') }}
    where created_at is null or {{ before_as_of('created_at') }}

),

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}
    where created_at is null or {{ before_as_of('created_at') }}

),

record_components as (

    select
        record_identifiers.record_id,
        min(components.exact_component_id) as exact_component_id
    from {{ ref('int_identity_record_identifiers') }} as record_identifiers
    inner join {{ ref('int_identity_exact_components') }} as components
        on record_identifiers.identifier_key = components.identifier_key
    where record_identifiers.source_name in ('customers', 'crm_contacts')
    group by record_identifiers.record_id

),

records as (

    select
        'customers:' || shop_customer_id as record_id,
        'customers' as source_name,
        first_name,
        last_name,
        cast(null as {{ dbt.type_string() }}) as birth_date_key,
        postal_code,
        cast(null as {{ dbt.type_string() }}) as street,
        cast(null as {{ dbt.type_string() }}) as city,
        phone,
        cast(null as {{ dbt.type_string() }}) as external_id
    from shop_customers

    union all

    select
        'crm_contacts:' || contact_id as record_id,
        'crm_contacts' as source_name,
        first_name,
        last_name,
        birth_date_key,
        postal_code,
        street,
        city,
        phone,
        external_id
    from crm_contacts

),

final as (

    select
        records.record_id,
        records.source_name,
        record_components.exact_component_id,
        {{ name_key('records.first_name') }} as first_name_key,
        {{ name_key('records.last_name') }} as last_name_key,
        records.birth_date_key,
        nullif(upper(replace(records.postal_code, ' ', '')), '') as postal_code_key,
        nullif(lower(trim(records.street)), '') as street_key,
        -- Streets of one town look alike; a different house number is another home.
        regexp_replace(coalesce(records.street, ''), '[^0-9]', '', 'g') as house_number,
        nullif(lower(trim(records.city)), '') as city_key,
        {{ phone_key('records.phone') }} as phone_key,
        records.external_id

    from records
    inner join record_components
        on records.record_id = record_components.record_id

)

select * from final
