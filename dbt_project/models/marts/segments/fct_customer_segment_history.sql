{{
    config(
        materialized='incremental',
        unique_key='as_of_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

-- One row per person per segment per as-of date the pipeline ran for. A run replaces
-- its own as-of date and keeps every other one. member_since and previous_segment
-- carry over from the latest earlier run, so each run costs in proportion to today's
-- segments, not to the history: in the same segment then, the person keeps that
-- run's member_since; otherwise they joined today, and previous_segment is what they
-- held of the same type then. (--full-refresh starts the history again.)

with

current_segments as (

    select * from {{ ref('int_customer_segments_current') }}

),

{% if is_incremental() %}
    previous_run as (

        select max(as_of_date) as as_of_date from {{ this }}
        where as_of_date < cast('{{ as_of_date() }}' as date)

    ),

    previous as (

        select history.*
        from {{ this }} as history
        inner join previous_run
            on history.as_of_date = previous_run.as_of_date

    ),

    previous_by_type as (

        select
            customer_id,
            segment_type,
            min(segment) as segment
        from previous
        group by customer_id, segment_type

    ),
{% else %}
    previous as (

        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as segment_type,
            cast(null as {{ dbt.type_string() }}) as segment,
            cast(null as {{ dbt.type_string() }}) as previous_segment,
            cast(null as date) as member_since
        where false

    ),

    previous_by_type as (

        select customer_id, segment_type, segment from previous

    ),
{% endif %}

final as (

    select
        {{ dbt.concat([
            'current_segments.customer_segment_id', "'|'",
            'cast(current_segments.as_of_date as ' ~ dbt.type_string() ~ ')'
        ]) }} as segment_history_id,
        current_segments.customer_segment_id,
        current_segments.customer_id,
        current_segments.segment_type,
        current_segments.segment,
        case
            when same.customer_id is not null then same.previous_segment
            else previous_by_type.segment
        end as previous_segment,
        current_segments.reason,
        current_segments.as_of_date,
        coalesce(same.member_since, current_segments.as_of_date) as member_since,
        current_segments.qualified_at

    from current_segments
    left join previous as same
        on
            current_segments.customer_id = same.customer_id
            and current_segments.segment_type = same.segment_type
            and current_segments.segment = same.segment
    left join previous_by_type
        on
            current_segments.customer_id = previous_by_type.customer_id
            and current_segments.segment_type = previous_by_type.segment_type

)

select * from final
