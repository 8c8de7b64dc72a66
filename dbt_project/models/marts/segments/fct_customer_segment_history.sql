{{
    config(
        materialized='incremental',
        unique_key='as_of_date',
        incremental_strategy='delete+insert',
    )
}}

-- One row per person per segment per as-of date the pipeline ran for. Each run
-- replaces its own as-of date and keeps every other, so "since when" and "moved from
-- Loyal to At Risk" are answerable, and history can be replayed date by date.

select
    {{ dbt.concat([
        'customer_segment_id', "'|'",
        'cast(as_of_date as ' ~ dbt.type_string() ~ ')'
    ]) }} as segment_history_id,
    customer_id,
    segment_type,
    segment,
    reason,
    as_of_date
from {{ ref('int_customer_segments_current') }}
