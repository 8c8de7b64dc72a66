-- One row per day from time_spine_start to time_spine_end: the calendar MetricFlow
-- joins metrics to (cumulative metrics, metric_time). Needs no source.

with

days as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('time_spine_start') ~ "' as date)",
        "cast('" ~ var('time_spine_end') ~ "' as date)"
    ) }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
