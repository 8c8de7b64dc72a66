{#
    String similarity for fuzzy identity matching, 1.0 for equal strings.
    DuckDB: Jaro-Winkler (kind to typos near the end of a name). Elsewhere: one minus
    the Levenshtein distance over the longer length (PostgreSQL: the fuzzystrmatch
    extension, created by `prepare_warehouse`); thresholds were tuned on Jaro-Winkler,
    which scores a typo slightly higher.
#}
{% macro text_similarity(a, b) -%}
    {{ return(adapter.dispatch('text_similarity', 'mailroom')(a, b)) }}
{%- endmacro %}

{% macro duckdb__text_similarity(a, b) -%}
    jaro_winkler_similarity({{ a }}, {{ b }})
{%- endmacro %}

{% macro default__text_similarity(a, b) -%}
    (1.0 - {{ mailroom.edit_distance(a, b) }} * 1.0
        / greatest(length({{ a }}), length({{ b }}), 1))
{%- endmacro %}

{# The Levenshtein distance: insertions, deletions and substitutions. #}
{% macro edit_distance(a, b) -%}
    {{ return(adapter.dispatch('edit_distance', 'mailroom')(a, b)) }}
{%- endmacro %}

{% macro default__edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro snowflake__edit_distance(a, b) -%}
    editdistance({{ a }}, {{ b }})
{%- endmacro %}

{% macro bigquery__edit_distance(a, b) -%}
    edit_distance({{ a }}, {{ b }})
{%- endmacro %}

{#
    Run once before a build (on-run-start): what the warehouse needs beyond plain SQL.
    PostgreSQL's levenshtein lives in the fuzzystrmatch extension.
#}
{% macro prepare_warehouse() -%}
    {{ return(adapter.dispatch('prepare_warehouse', 'mailroom')()) }}
{%- endmacro %}

{% macro default__prepare_warehouse() -%}
    select 1
{%- endmacro %}

{% macro postgres__prepare_warehouse() -%}
    create extension if not exists fuzzystrmatch
{%- endmacro %}
