{#
    SHA-256 of text (its UTF-8 bytes) as 64 lower-case hex digits; null stays null.
    DuckDB's sha256 gives the hex text itself; PostgreSQL (11+) hashes bytes, with
    no extension (pgcrypto is not needed).
#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'mailroom')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro postgres__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}
