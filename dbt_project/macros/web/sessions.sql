{#
    Sessionizing web events (int_web_events_sessionized). A session ends after
    session_inactivity_minutes without an event of the same visitor: the anonymous
    id, else the device, the shop customer id or the email.
#}

{% macro web_visitor_key() -%}
    coalesce(anonymous_id, device_id, shop_customer_id, email)
{%- endmacro %}

{#
    The model's columns, in order, from `events` (a CTE or a parenthesised query with
    the staged web event columns and visitor_key). Sessions are numbered per visitor
    from 1, or carry on after `resume_from` (a CTE of visitor_key, the occurred_at
    and the session_number of each visitor's last event that keeps its session).

    The windows run over the three columns they need and the session numbers are
    joined back by event id (`events` is read twice): windows over every column
    spilled at 1,000,000 customers (167 s against 118 s).
#}
{% macro number_sessions(events, resume_from=none) %}
    with

    session_starts as (

        select
            events.event_id,
            events.visitor_key,
            events.occurred_at,
            case
                when
                    coalesce(
                        lag(events.occurred_at) over (
                            partition by events.visitor_key
                            order by events.occurred_at, events.event_id
                        ),
                        {{ 'resume_from.occurred_at' if resume_from else 'null' }}
                    ) >= {{ dbt.dateadd(
                        'minute',
                        -1 * var('session_inactivity_minutes'),
                        'events.occurred_at'
                    ) }}
                    then 0
                else 1
            end as is_session_start,
            {{ 'coalesce(resume_from.session_number, 0)' if resume_from else '0' }}
                as sessions_before
        from {{ events }} as events
        {%- if resume_from %}
            left join {{ resume_from }} as resume_from
                on events.visitor_key = resume_from.visitor_key
        {%- endif %}

    ),

    session_numbers as (

        select
            event_id,
            sessions_before + sum(is_session_start) over (
                partition by visitor_key
                order by occurred_at, event_id
                rows between unbounded preceding and current row
            ) as session_number
        from session_starts

    )

    select
        events.event_id,
        events.visitor_key,
        {{ dbt.concat([
            'events.visitor_key', "'#'",
            'cast(session_numbers.session_number as ' ~ dbt.type_string() ~ ')'
        ]) }} as session_id,
        session_numbers.session_number,
        events.event_type,
        events.anonymous_id,
        events.shop_customer_id,
        events.email,
        events.device_id,
        events.product_id,
        events.page_url,
        events.search_query,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        events.occurred_at,
        events.loaded_at
    from {{ events }} as events
    inner join session_numbers
        on events.event_id = session_numbers.event_id
{% endmacro %}

{#
    How many statements a full build sessionizes the events in: one per
    session_build_batch_events events, each over the visitors of one hash bucket
    (a visitor's events all land in one). Sorting every event at once for the
    windows spilled more than 48 GB to disk at 5,000,000 customers.
#}
{% macro session_build_batches() -%}
    {%- set batch_events = var('session_build_batch_events') | int -%}
    {%- if batch_events < 1 -%}
        {{ exceptions.raise_compiler_error(
            'session_build_batch_events must be a whole number of events of at least 1, '
            ~ 'not ' ~ var('session_build_batch_events')
        ) }}
    {%- endif -%}
    {%- set events = load_relation(ref('stg_web__events')) -%}
    {%- if not execute or events is none -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set count = run_query('select count(*) from ' ~ events).columns[0].values()[0] -%}
    {{ return([1, ((count | int) / batch_events) | round(0, 'ceil') | int] | max) }}
{%- endmacro %}

{#
    A full build's sessions of the visitors in hash bucket `batch` of `batches`
    (every visitor when there is one batch).
#}
{% macro sessionized_batch(batch, batches) %}
    {%- set events -%}
        (
            select *
            from (
                select *, {{ mailroom.web_visitor_key() }} as visitor_key
                from {{ ref('stg_web__events') }}
            ) as staged
            {%- if batches > 1 %}
                where {{ mailroom.hash_bucket('visitor_key', batches) }} = {{ batch }}
            {%- endif %}
        )
    {%- endset -%}
    {{ mailroom.number_sessions(events) }}
{% endmacro %}

{# Where a full build keeps the batches after the first until the model is built. #}
{% macro session_batches_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__batches'})) }}
{%- endmacro %}

{#
    Pre-hook of a full build: sessionize every batch but the first (which the model
    itself selects) into session_batches_relation, one statement each, so that no
    statement sorts more than one batch's events. Nothing on an incremental run.
#}
{% macro build_session_batches() -%}
    {%- if not is_incremental() -%}
        {%- set batches = mailroom.session_build_batches() -%}
        {%- set relation = mailroom.session_batches_relation() -%}
        drop table if exists {{ relation }};
        {%- for batch in range(1, batches) %}
            {{ 'create table ' ~ relation ~ ' as' if loop.first
                else 'insert into ' ~ relation }}
            select * from ({{ mailroom.sessionized_batch(batch, batches) }}) as batch;
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{# Post-hook: the batches are in the model now. #}
{% macro drop_session_batches() -%}
    drop table if exists {{ mailroom.session_batches_relation() }}
{%- endmacro %}
