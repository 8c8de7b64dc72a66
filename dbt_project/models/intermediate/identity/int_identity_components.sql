-- One row per identifier (type and value), with the resolved person it belongs to.
-- Identifiers carried by the same record are linked; linked identifiers form one
-- person (exact matching on shop customer id, CRM contact id and normalized email).

with

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

-- Every identifier of a record is linked to the record's first identifier.
edges as (

    select
        identifier_key as node_a,
        min(identifier_key) over (partition by record_id) as node_b
    from record_identifiers

),

components as (

    {{ connected_components('edges', var('identity_resolution_rounds')) }}

),

identifiers as (

    select distinct id_type, id_value, identifier_key
    from record_identifiers

),

final as (

    select
        identifiers.identifier_key,
        identifiers.id_type,
        identifiers.id_value,
        'cus_' || {{ dbt.right(dbt.hash('components.component_id'), 16) }}
            as customer_id,
        components.component_id

    from identifiers
    inner join components
        on identifiers.identifier_key = components.node_id

)

select * from final
