-- Shown in Dagster as an asset check of int_identity_components.
{{ config(meta={'dagster': {'ref': {'name': 'int_identity_components'}}}) }}

-- Two identifiers carried by one record must belong to one person. A row here
-- means identity_resolution_rounds is too small for the longest chain of links.
with

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

components as (

    select * from {{ ref('int_identity_components') }}

),

record_people as (

    select
        record_identifiers.record_id,
        count(distinct components.customer_id) as people
    from record_identifiers
    inner join components
        on record_identifiers.identifier_key = components.identifier_key
    group by record_identifiers.record_id

)

select * from record_people
where people > 1
