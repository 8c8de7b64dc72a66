{#
    Casts that give null instead of failing on text that does not parse. Staging uses
    them so that one bad value quarantines its row instead of failing the build.
    Timestamps with an offset are converted to UTC; without one they are taken as UTC.
#}
{% macro safe_cast(expression, type) -%}
    {{ return(adapter.dispatch('safe_cast', 'mailroom')(expression, type)) }}
{%- endmacro %}

{% macro default__safe_cast(expression, type) -%}
    try_cast({{ expression }} as {{ type }})
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
