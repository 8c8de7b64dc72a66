-- One row per valid web event, whatever its date, with its visitor and session: a
-- session ends after session_inactivity_minutes without an event of the same
-- anonymous id (or device, when there is no anonymous id).
--
-- Incremental: a run sessionizes again every event of each visitor with a newly
-- loaded event, so a late event that splits or joins sessions renumbers that
-- visitor's sessions exactly as a full build would. Neither the person nor the as-of
-- filter is stored here (identity merges and an earlier as-of replay change both):
-- int_web_events_enriched applies them when it reads this. Numbering only looks
-- back, so an event's session is the same whether later events exist or not.
{{
    config(
        materialized='incremental',
        unique_key='visitor_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

events as (

    select
        *,
        coalesce(anonymous_id, device_id, shop_customer_id, email) as visitor_key
    from {{ ref('stg_web__events') }}

),

touched_visitors as (

    select distinct visitor_key from events
    where {{ is_new_load('loaded_at') }}

),

visitor_events as (

    select events.*
    from events
    {%- if is_incremental() %}
        inner join touched_visitors
            on events.visitor_key = touched_visitors.visitor_key
    {%- endif %}

),

session_starts as (

    select
        *,
        case
            when
                lag(occurred_at) over (
                    partition by visitor_key order by occurred_at, event_id
                ) >= {{ dbt.dateadd(
                'minute', -1 * var('session_inactivity_minutes'), 'occurred_at'
            ) }}
                then 0
            else 1
        end as is_session_start
    from visitor_events

),

sessionized as (

    select
        *,
        sum(is_session_start) over (
            partition by visitor_key
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts

),

final as (

    select
        event_id,
        visitor_key,
        {{ dbt.concat([
            'visitor_key', "'#'",
            'cast(session_number as ' ~ dbt.type_string() ~ ')'
        ]) }} as session_id,
        event_type,
        anonymous_id,
        shop_customer_id,
        email,
        device_id,
        product_id,
        page_url,
        search_query,
        utm_source,
        utm_medium,
        utm_campaign,
        occurred_at,
        loaded_at
    from sessionized

)

select * from final
