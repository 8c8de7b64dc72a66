{#
    Run before every dbt invocation (on-run-start): creates what the adapter lacks
    and the models need. DuckDB has everything built in, so nothing happens there.
#}
{% macro adapter_setup() -%}
    {{ return(adapter.dispatch('adapter_setup', 'mailroom')()) }}
{%- endmacro %}

{% macro default__adapter_setup() -%}
    select 1
{%- endmacro %}

{#
    PostgreSQL:
    * mailroom_try_cast(text, null::<type>): the text as <type>, or null where the
      type's input function rejects it (PL/pgSQL assignment converts through text).
      It parses in UTC, as DuckDB's profile does, whatever the session time zone.
    * fuzzystrmatch (a trusted contrib extension) for string_similarity.
#}
{% macro postgres__adapter_setup() -%}
    create schema if not exists {{ target.schema }};
    create extension if not exists fuzzystrmatch schema {{ target.schema }};
    create or replace function {{ target.schema }}.mailroom_try_cast(
        value text, inout result anyelement
    )
    language plpgsql immutable parallel safe
    set timezone to 'UTC'
    as $function$
    begin
        result := value;
    exception when others then
        result := null;
    end
    $function$;
{%- endmacro %}
