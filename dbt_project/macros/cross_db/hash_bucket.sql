{#
    Which of `buckets` buckets (0 to buckets - 1) a text value falls in, by a hash
    of it: the same value always lands in the same bucket, and a null in one of
    them too.
#}
{% macro hash_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket', 'mailroom')(expression, buckets)) }}
{%- endmacro %}

{# DuckDB's hash is an unsigned 64-bit integer. #}
{% macro default__hash_bucket(expression, buckets) -%}
    hash(coalesce({{ expression }}, '')) % {{ buckets }}
{%- endmacro %}

{# hashtext is a signed 32-bit integer (the hash PostgreSQL partitions text by). #}
{% macro postgres__hash_bucket(expression, buckets) -%}
    mod(abs(cast(hashtext(coalesce({{ expression }}, '')) as bigint)), {{ buckets }})
{%- endmacro %}
