-- One row per valid web event, whatever its date, with its visitor and session: a
-- session ends after session_inactivity_minutes without an event of the same
-- visitor (the anonymous id, else the device, shop customer id or email). The
-- numbering is in the number_sessions macro (macros/web/sessions.sql).
--
-- Incremental: sessions are numbered by looking back only, so the events of a visitor
-- before their earliest newly loaded event keep their sessions. A run numbers again
-- that visitor's events from there on (new and held), carrying on from the last
-- session before it: a late event that splits or joins sessions gives the ids a full
-- build would. Neither the person nor the as-of filter is stored here (identity
-- merges and an earlier as-of replay change both): int_web_events_enriched applies
-- them when it reads this. Changing session_inactivity_minutes needs --full-refresh.
--
-- A full build sorts the events in batches of visitors, about
-- session_build_batch_events events each: the pre-hook sessionizes every batch but
-- the first into a scratch table, one statement each, and the model adds the first.
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook=before_begin('{{ mailroom.build_session_batches() }}'),
        post_hook='{{ mailroom.drop_session_batches() }}',
    )
}}

-- depends_on: {{ ref('stg_web__events') }}

{%- set columns = [
    'event_id', 'visitor_key', 'event_type', 'anonymous_id', 'shop_customer_id',
    'email', 'device_id', 'product_id', 'page_url', 'search_query', 'utm_source',
    'utm_medium', 'utm_campaign', 'occurred_at', 'loaded_at',
] %}

{% if is_incremental() %}

    with

    new_events as not materialized (

        select
            *,
            {{ web_visitor_key() }} as visitor_key
        from {{ ref('stg_web__events') }}
        where {{ is_new_load('loaded_at') }}

    ),

    first_new as (

        select visitor_key, min(occurred_at) as first_new_at
        from new_events
        group by visitor_key

    ),

    -- Not materialized: a touched visitor's whole history is read (at 1,000,000
    -- customers half the table), but only their events from the first new one on
    -- need every column; inlined, the filter joins the scan (there, numbering a
    -- day's events took 19.4 s in a refresh instead of 69.5 s).
    held as not materialized (

        select
            held.*,
            held.occurred_at >= first_new.first_new_at as is_renumbered
        from {{ this }} as held
        inner join first_new
            on held.visitor_key = first_new.visitor_key

    ),

    -- The last event of each visitor that keeps its session: where numbering resumes.
    resume_from as (

        select
            visitor_key,
            max(occurred_at) as occurred_at,
            max(session_number) as session_number
        from held
        where not is_renumbered
        group by visitor_key

    ),

    events as not materialized (

        select {{ columns | join(', ') }} from new_events
        union all
        select {{ columns | join(', ') }} from held
        where is_renumbered

    )

    select * from ({{ number_sessions('events', resume_from='resume_from') }}) as sessionized

{% else %}

    {%- set batches = session_build_batches() %}

    select * from ({{ sessionized_batch(0, batches) }}) as first_batch
    {%- if batches > 1 %}
        union all
        select * from {{ session_batches_relation() }}
    {%- endif %}

{% endif %}
