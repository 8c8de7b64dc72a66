{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
    )
}}

-- The customer id of each identifier, as a history: a row when an identifier is first
-- seen and whenever it moves to another person. The latest row per identifier is its
-- id now (int_identity_components); the moves are the merge log.
--
-- Ids are stable: when new data arrives, each component of the new resolution keeps
-- the id that most of its identifiers had (a merge keeps the id of the larger side,
-- ties the smaller id), each old id goes to at most one component (a split leaves the
-- id with the part holding most of its identifiers) and only a component with no old
-- id gets a new one. A rerun on the same data changes nothing and adds no row.
-- full_refresh=false: `dbt build --full-refresh` keeps this history; drop the table
-- by hand to renumber everyone.

with

resolved as (

    select identifier_key, component_id
    from {{ ref('int_identity_resolved_components') }}

),

{% if is_incremental() %}
    previous as (

        {{ latest_customer_ids(this) }}

    ),

    known_ids as (

        select distinct customer_id from {{ this }}

    ),

    this_version as (

        select coalesce(max(version), 0) + 1 as version from {{ this }}

    ),
{% else %}
    previous as (

        select
            cast(null as {{ dbt.type_string() }}) as identifier_key,
            cast(null as {{ dbt.type_string() }}) as customer_id
        where 1 = 0

    ),

    known_ids as (

        select customer_id from previous

    ),

    this_version as (

        select 1 as version

    ),
{% endif %}

-- How many identifiers of each new component held each old id.
claims as (

    select
        resolved.component_id,
        previous.customer_id,
        count(*) as identifier_count
    from resolved
    inner join previous
        on resolved.identifier_key = previous.identifier_key
    group by resolved.component_id, previous.customer_id

),

-- Each old id goes to the component holding most of its identifiers.
owned as (

    select component_id, customer_id, identifier_count
    from (
        select
            *,
            row_number() over (
                partition by customer_id
                order by identifier_count desc, component_id asc
            ) as claim_rank
        from claims
    ) as ranked_claims
    where claim_rank = 1

),

-- Each component keeps the owned id most of its identifiers had.
kept as (

    select component_id, customer_id
    from (
        select
            *,
            row_number() over (
                partition by component_id
                order by identifier_count desc, customer_id asc
            ) as keep_rank
        from owned
    ) as ranked_owned
    where keep_rank = 1

),

-- The id a component gets when it is new: a hash of its smallest identifier, so a
-- first build always numbers people the same way.
fresh_ids as (

    select distinct
        component_id,
        'cus_' || {{ dbt.right(dbt.hash('component_id'), 16) }} as customer_id
    from resolved

),

assigned as (

    select
        resolved.identifier_key,
        coalesce(
            kept.customer_id,
            case
                when known_ids.customer_id is null then fresh.customer_id
                -- A component whose natural id was retired by a split: a new one.
                else 'cus_' || {{ dbt.right(
                    dbt.hash(dbt.concat([
                        'resolved.component_id',
                        "'|'",
                        'cast(this_version.version as ' ~ dbt.type_string() ~ ')',
                    ])),
                    16
                ) }}
            end
        ) as customer_id
    from resolved
    cross join this_version
    left join kept
        on resolved.component_id = kept.component_id
    left join fresh_ids as fresh
        on resolved.component_id = fresh.component_id
    left join known_ids
        on fresh.customer_id = known_ids.customer_id

),

final as (

    select
        assigned.identifier_key,
        assigned.customer_id,
        previous.customer_id as previous_customer_id,
        case
            when previous.customer_id is null then 'new'
            when previous.customer_id in (select customer_id from kept) then 'split'
            else 'merged'
        end as change_type,
        this_version.version,
        cast('{{ as_of_date() }}' as date) as as_of_date,
        {{ dbt.current_timestamp() }} as recorded_at

    from assigned
    cross join this_version
    left join previous
        on assigned.identifier_key = previous.identifier_key
    where previous.customer_id is null or previous.customer_id <> assigned.customer_id

)

select * from final
