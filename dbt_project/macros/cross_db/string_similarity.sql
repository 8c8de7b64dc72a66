{#
    Similarity of two strings from 0 (nothing alike) to 1 (equal), for fuzzy matching
    of names. DuckDB: Jaro-Winkler. PostgreSQL has no Jaro-Winkler; there it is one
    minus the Levenshtein distance over the longer length (fuzzystrmatch, created by
    the on-run-start hook), which ranks pairs alike but scores typos a little lower:
    thresholds tuned on one engine need checking on the other.
#}
{% macro string_similarity(left, right) -%}
    {{ return(adapter.dispatch('string_similarity', 'mailroom')(left, right)) }}
{%- endmacro %}

{% macro default__string_similarity(left, right) -%}
    jaro_winkler_similarity({{ left }}, {{ right }})
{%- endmacro %}

{% macro postgres__string_similarity(left, right) -%}
    case
        when {{ left }} = {{ right }} then 1.0
        else 1.0 - {{ target.schema }}.levenshtein({{ left }}, {{ right }})::numeric
            / nullif(greatest(length({{ left }}), length({{ right }})), 0)
    end
{%- endmacro %}
