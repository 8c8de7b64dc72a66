-- One row per person id change of a run: a person who absorbed another (merged), a
-- person one of whose parts got a new id (split), with how many identifiers moved,
-- when, and on what evidence. New people are not listed; their ids appear in
-- customer_identity_map.

with

history as (

    select * from {{ ref('int_identity_customer_id_history') }}
    where change_type <> 'new'

),

resolved as (

    select identifier_key, is_fuzzy_merged
    from {{ ref('int_identity_resolved_components') }}

),

final as (

    select
        history.previous_customer_id as old_customer_id,
        history.customer_id as new_customer_id,
        history.change_type,
        case
            when history.change_type = 'split' then 'no_longer_linked'
            -- The person now spans records joined by a fuzzy match (the pairs and
            -- their evidence are in int_identity_fuzzy_matches).
            when max(case when resolved.is_fuzzy_merged then 1 else 0 end) = 1
                then 'fuzzy_match'
            else 'shared_identifier'
        end as reason,
        count(*) as identifiers_moved,
        history.version,
        history.as_of_date,
        history.recorded_at

    from history
    left join resolved
        on history.identifier_key = resolved.identifier_key
    group by
        history.previous_customer_id,
        history.customer_id,
        history.change_type,
        history.version,
        history.as_of_date,
        history.recorded_at

)

select * from final
