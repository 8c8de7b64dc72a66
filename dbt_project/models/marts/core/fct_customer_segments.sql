-- One row per person per active segment, with the rule and the values that put the
-- person there. Segments so far: the RFM segment (every person has exactly one) and
-- VIP (spend over vip_min_spend within vip_window_days before the as-of date).

with

rfm as (

    select * from {{ ref('fct_customer_rfm') }}

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

rfm_segments as (

    select
        customer_id,
        'rfm' as segment_type,
        rfm_segment as segment,
        case
            when rfm_segment = 'no_orders'
                then 'no revenue order before the as-of date'
            else {{ dbt.concat([
                "'r_score='", 'cast(r_score as ' ~ dbt.type_string() ~ ')',
                "', f_score='", 'cast(f_score as ' ~ dbt.type_string() ~ ')',
                "' (recency_days='", 'cast(recency_days as ' ~ dbt.type_string() ~ ')',
                "', frequency='", 'cast(frequency as ' ~ dbt.type_string() ~ ')',
                "') in the rfm_segment_grid seed'"
            ]) }}
        end as reason,
        as_of_date
    from rfm

),

vip_segments as (

    select
        customer_id,
        'behaviour' as segment_type,
        'vip' as segment,
        {{ dbt.concat([
            "'spent '", 'cast(recent_revenue as ' ~ dbt.type_string() ~ ')',
            "' in the last " ~ var('vip_window_days') ~ " days (more than "
            ~ var('vip_min_spend') ~ ")'"
        ]) }} as reason,
        cast('{{ as_of_date() }}' as date) as as_of_date
    from order_summary
    where recent_revenue > {{ var('vip_min_spend') }}

),

unioned as (

    select * from rfm_segments
    union all
    select * from vip_segments

),

final as (

    select
        {{ dbt.concat(['customer_id', "':'", 'segment_type', "':'", 'segment']) }}
            as customer_segment_id,
        *
    from unioned

)

select * from final
