{#
    Casts that give null instead of failing on text that does not parse. (This
    project's safe_cast also replaces dbt's own, which unit test fixtures call with
    values of any type.) Staging uses
    them so that one bad value quarantines its row instead of failing the build.
    Timestamps with an offset are converted to UTC; without one they are taken as UTC.
#}
{% macro safe_cast(expression, type) -%}
    {{ return(adapter.dispatch('safe_cast', 'mailroom')(expression, type)) }}
{%- endmacro %}

{% macro default__safe_cast(expression, type) -%}
    try_cast({{ expression }} as {{ type }})
{%- endmacro %}

{#
    PostgreSQL has no try_cast: mailroom_try_cast (created by the on-run-start hook,
    see setup.sql) converts the text to the type of its second argument and gives
    null where the type's input function rejects it. Only ISO dates (YYYY-MM-DD...)
    are tried as dates and timestamps: PostgreSQL would also read 01/02/2024 or
    'yesterday', which DuckDB refuses.
#}
{% macro postgres__safe_cast(expression, type) -%}
    {%- set text = 'cast(' ~ expression ~ ' as text)' -%}
    {%- set iso_date = type | lower in ('date', 'timestamp', 'timestamptz') -%}
    cast({{ target.schema }}.mailroom_try_cast(
        {%- if iso_date %}
        case
            when {{ mailroom.regex_full_match(
                'trim(' ~ text ~ ')', '[0-9]{4}-[0-9]{2}-[0-9]{2}.*'
            ) }}
                then {{ text }}
        end,
        {%- else %}
        {{ text }},
        {%- endif %}
        null::{{ type }}
    ) as {{ type }})
{%- endmacro %}

{% macro bigquery__safe_cast(expression, type) -%}
    safe_cast({{ expression }} as {{ type }})
{%- endmacro %}

{% macro safe_timestamp(expression) -%}
    {{ return(adapter.dispatch('safe_timestamp', 'mailroom')(expression)) }}
{%- endmacro %}

{% macro default__safe_timestamp(expression) -%}
    cast({{ mailroom.safe_cast(expression, 'timestamptz') }} as timestamp)
{%- endmacro %}

{# mailroom_try_cast reads text in UTC; `at time zone` keeps the UTC wall time
   whatever the session's time zone is. #}
{% macro postgres__safe_timestamp(expression) -%}
    ({{ mailroom.safe_cast(expression, 'timestamptz') }} at time zone 'UTC')
{%- endmacro %}

{% macro safe_decimal(expression) -%}
    {{ mailroom.safe_cast(expression, dbt.type_numeric()) }}
{%- endmacro %}

{% macro safe_integer(expression) -%}
    {{ mailroom.safe_cast(expression, dbt.type_bigint()) }}
{%- endmacro %}

{% macro safe_date(expression) -%}
    {{ mailroom.safe_cast(expression, 'date') }}
{%- endmacro %}

{#
    Booleans accept true/false, t/f, yes/no, y/n and 1/0 in any case; anything else
    is null (unknown), never false.
#}
{% macro safe_boolean(expression) -%}
    case
        when lower(trim({{ expression }})) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim({{ expression }})) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}
