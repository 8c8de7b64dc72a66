-- One row per identifier (type and value) with the component of identifiers it is
-- linked to by exact evidence: identifiers carried by the same record are linked
-- (shop customer id, CRM contact id, normalized email, phone digits).
--
-- Per-type limit: a person has one shop account. An email or phone found on records
-- of more than one shop customer id (a family sharing an address, a shop clerk's
-- phone) links none of them: it stays a component of its own, so two accounts are
-- never merged through it. Junk values never get here (identity_blocklist).

with

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

record_accounts as (

    select distinct record_id, id_value as shop_customer_id
    from record_identifiers
    where id_type = 'customer_id'

),

shared_identifiers as (

    select record_identifiers.identifier_key
    from record_identifiers
    inner join record_accounts
        on record_identifiers.record_id = record_accounts.record_id
    where record_identifiers.id_type <> 'customer_id'
    group by record_identifiers.identifier_key
    having count(distinct record_accounts.shop_customer_id) > 1

),

linking as (

    select
        record_identifiers.record_id,
        record_identifiers.identifier_key,
        shared_identifiers.identifier_key is null as is_link
    from record_identifiers
    left join shared_identifiers
        on record_identifiers.identifier_key = shared_identifiers.identifier_key

),

-- Every linking identifier of a record is tied to the record's first linking one
-- (a shared identifier to nothing: it is a node of its own). An aggregate and a
-- join rather than a window over all record identifiers: a third of the time.
record_first_links as (

    select record_id, min(identifier_key) as first_link_key
    from linking
    where is_link
    group by record_id

),

edges as (  -- noqa: ST03

    select
        linking.identifier_key as node_a,
        record_first_links.first_link_key as node_b
    from linking
    inner join record_first_links
        on linking.record_id = record_first_links.record_id
    where
        linking.is_link
        and linking.identifier_key <> record_first_links.first_link_key

),

identifiers as (

    select
        identifier_key as node_id,
        min(id_type) as id_type,
        min(id_value) as id_value
    from record_identifiers
    group by identifier_key

),

-- The recursive CTE the macro emits on DuckDB (`using key`) is beyond the linter.
components as (

    {{ connected_components('edges', var('identity_resolution_rounds'), nodes='identifiers') }}  -- noqa: PRS

),

final as (

    select
        identifiers.node_id as identifier_key,
        identifiers.id_type,
        identifiers.id_value,
        components.component_id as exact_component_id,
        shared_identifiers.identifier_key is not null as is_shared

    from identifiers
    inner join components
        on identifiers.node_id = components.node_id
    left join shared_identifiers
        on identifiers.node_id = shared_identifiers.identifier_key

)

select * from final
