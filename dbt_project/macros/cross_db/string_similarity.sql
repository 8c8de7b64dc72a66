{#
    Similarity of two strings from 0 (nothing alike) to 1 (equal), for fuzzy
    matching of names: Jaro-Winkler. Built into DuckDB; on PostgreSQL the on-run-start
    hook creates mailroom_jaro_winkler, which gives the same values (see setup.sql).
#}
{% macro string_similarity(left, right) -%}
    {{ return(adapter.dispatch('string_similarity', 'mailroom')(left, right)) }}
{%- endmacro %}

{% macro default__string_similarity(left, right) -%}
    jaro_winkler_similarity({{ left }}, {{ right }})
{%- endmacro %}

{% macro postgres__string_similarity(left, right) -%}
    {{ target.schema }}.mailroom_jaro_winkler({{ left }}, {{ right }})
{%- endmacro %}
