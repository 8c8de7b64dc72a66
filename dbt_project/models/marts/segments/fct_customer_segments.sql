-- One row per person per active segment as of the run's as-of date: the rule and
-- values that put them there (reason), when the qualifying event happened
-- (qualified_at), since which recorded run they have been in it without a break
-- (member_since), and for each segment type the segment they were in before.

with

current_segments as (

    select * from {{ ref('int_customer_segments_current') }}

),

history as (

    select * from {{ ref('fct_customer_segment_history') }}
    where as_of_date <= cast('{{ as_of_date() }}' as date)

),

runs as (

    select
        as_of_date,
        dense_rank() over (order by as_of_date) as run_number
    from (select distinct as_of_date from history) as dates

),

-- Gaps and islands: consecutive runs in the same segment share an island.
memberships as (

    select
        history.customer_id,
        history.segment_type,
        history.segment,
        history.as_of_date,
        runs.run_number - row_number() over (
            partition by history.customer_id, history.segment_type, history.segment
            order by runs.run_number
        ) as island
    from history
    inner join runs
        on history.as_of_date = runs.as_of_date

),

islands as (

    select
        customer_id,
        segment_type,
        segment,
        island,
        min(as_of_date) as member_since,
        max(as_of_date) as member_until
    from memberships
    group by customer_id, segment_type, segment, island

),

current_islands as (

    select * from islands
    where member_until = cast('{{ as_of_date() }}' as date)

),

-- The segment of the same type held in the latest run before the current streak.
previous_ranked as (

    select
        current_islands.customer_id,
        current_islands.segment_type,
        current_islands.segment,
        history.segment as previous_segment,
        row_number() over (
            partition by
                current_islands.customer_id,
                current_islands.segment_type,
                current_islands.segment
            order by history.as_of_date desc, history.segment asc
        ) as recency_rank
    from current_islands
    inner join history
        on
            current_islands.customer_id = history.customer_id
            and current_islands.segment_type = history.segment_type
            and current_islands.member_since > history.as_of_date

),

final as (

    select
        current_segments.customer_segment_id,
        current_segments.customer_id,
        current_segments.segment_type,
        current_segments.segment,
        previous_ranked.previous_segment,
        current_segments.reason,
        current_segments.as_of_date,
        coalesce(current_islands.member_since, current_segments.as_of_date)
            as member_since,
        current_segments.qualified_at

    from current_segments
    left join current_islands
        on
            current_segments.customer_id = current_islands.customer_id
            and current_segments.segment_type = current_islands.segment_type
            and current_segments.segment = current_islands.segment
    left join previous_ranked
        on
            current_segments.customer_id = previous_ranked.customer_id
            and current_segments.segment_type = previous_ranked.segment_type
            and current_segments.segment = previous_ranked.segment
            and previous_ranked.recency_rank = 1

)

select * from final
