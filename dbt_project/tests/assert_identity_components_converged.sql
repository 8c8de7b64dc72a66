-- Shown in Dagster as an asset check of int_identity_exact_components.
{{ config(meta={'dagster': {'ref': {'name': 'int_identity_exact_components'}}}) }}

-- The linking identifiers carried by one record must share one component (shared
-- identifiers link nothing). A row here means identity_resolution_rounds is too
-- small for the longest chain of links.
with

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

components as (

    select * from {{ ref('int_identity_exact_components') }}
    where not is_shared

),

record_components as (

    select
        record_identifiers.record_id,
        count(distinct components.exact_component_id) as component_count
    from record_identifiers
    inner join components
        on record_identifiers.identifier_key = components.identifier_key
    group by record_identifiers.record_id

)

select * from record_components
where component_count > 1
