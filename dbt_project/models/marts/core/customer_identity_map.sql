with

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

by_source as (

    select
        identifier_key,
        source_name,
        cast(sum(record_count) as {{ dbt.type_bigint() }}) as record_count,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from record_identifiers
    group by identifier_key, source_name

),

final as (

    select
        {{ dbt.hash(dbt.concat(['by_source.identifier_key', "'|'", 'by_source.source_name'])) }}
            as identity_map_id,
        identifiers.id_type,
        identifiers.id_value,
        by_source.source_name,
        identifiers.customer_id,
        by_source.record_count,
        by_source.first_seen_at,
        by_source.last_seen_at

    from by_source
    inner join identifiers
        on by_source.identifier_key = identifiers.identifier_key

)

select * from final
