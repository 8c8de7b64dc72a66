-- One row per identifier (type and value) with its resolved person: the component
-- of exact and fuzzy links it belongs to, and that person's stable customer id.

with

resolved as (

    select * from {{ ref('int_identity_resolved_components') }}

),

latest_ids as (

    {{ latest_customer_ids(ref('int_identity_customer_id_history')) }}

),

final as (

    select
        resolved.identifier_key,
        resolved.id_type,
        resolved.id_value,
        latest_ids.customer_id,
        resolved.component_id,
        resolved.is_fuzzy_merged

    from resolved
    inner join latest_ids
        on resolved.identifier_key = latest_ids.identifier_key

)

select * from final
