{#
    `expression` rounded to `digits` decimals, as a double on every adapter
    (PostgreSQL rounds only numerics and keeps their scale: 0.0500, not 0.05).
#}
{% macro round_float(expression, digits) -%}
    cast(round(cast({{ expression }} as {{ dbt.type_numeric() }}), {{ digits }})
        as {{ mailroom.type_double() }})
{%- endmacro %}

{# An 8-byte float (dbt.type_float() is a 4-byte one on DuckDB). #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'mailroom')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro bigquery__type_double() -%}
    float64
{%- endmacro %}
