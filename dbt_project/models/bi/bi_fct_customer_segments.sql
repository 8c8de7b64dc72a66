{{ config(alias='fct_customer_segments') }}

-- One row per person per active segment, as marts.fct_customer_segments (its
-- reasons state rules and values, never who the person is).

with

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

final as (

    select
        customer_segment_id,
        customer_id,
        segment_type,
        segment,
        previous_segment,
        reason,
        as_of_date,
        member_since,
        qualified_at

    from segments

)

select * from final
