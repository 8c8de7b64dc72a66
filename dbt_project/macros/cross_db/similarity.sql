{# The Levenshtein distance: insertions, deletions and substitutions. #}
{% macro edit_distance(a, b) -%}
    {{ return(adapter.dispatch('edit_distance', 'mailroom')(a, b)) }}
{%- endmacro %}

{# DuckDB, Spark and PostgreSQL (fuzzystrmatch, created by adapter_setup). #}
{% macro default__edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro snowflake__edit_distance(a, b) -%}
    editdistance({{ a }}, {{ b }})
{%- endmacro %}

{% macro bigquery__edit_distance(a, b) -%}
    edit_distance({{ a }}, {{ b }})
{%- endmacro %}
