{#
    The as-of date of the run, as YYYY-MM-DD text: the `as_of` var, else the
    MAILROOM_AS_OF environment variable, else today (UTC). Everything the marts use
    happened strictly before midnight UTC that starts this day.
#}
{% macro as_of_date() -%}
    {%- set value = var('as_of', '') or env_var('MAILROOM_AS_OF', '') -%}
    {%- if not value -%}
        {%- set value = modules.datetime.datetime.utcnow().date().isoformat() -%}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
        {{ exceptions.raise_compiler_error(
            "as_of must be a date written YYYY-MM-DD, got '" ~ value ~ "'"
        ) }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}

{% macro as_of_timestamp() -%}
    cast('{{ as_of_date() }}' as timestamp)
{%- endmacro %}

{# True for a timestamp that happened before the as-of date. #}
{% macro before_as_of(column) -%}
    {{ column }} < {{ as_of_timestamp() }}
{%- endmacro %}
