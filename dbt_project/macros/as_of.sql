{#
    The as-of date of the run, as YYYY-MM-DD text: the `as_of` var, else the date of
    the as-of instant (below), else the MAILROOM_AS_OF environment variable, else
    today (UTC).

    The environment is read only when a node runs (`execute`), never while dbt
    parses: dbt re-parses every file whose parse read an environment variable that
    has since changed, and the as-of date changes every day (the instant of a
    real-time run every run), which cost a real-time run 3 s of its 30.
#}
{% macro as_of_date() -%}
    {%- set value = var('as_of', '') or (as_of_at()[:10]) -%}
    {%- set value = value or (env_var('MAILROOM_AS_OF', '') if execute else '') -%}
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

{#
    The as-of instant of a near-real-time run, as 'YYYY-MM-DD HH:MM:SS' text (UTC),
    or '' for a daily run: the `as_of_at` var, else MAILROOM_AS_OF_AT (read when a
    node runs, as above). A daily run
    sees everything before midnight UTC starting its as-of date; a run with an
    instant sees everything before that instant (a cart abandoned a minute ago).
#}
{% macro as_of_at() -%}
    {%- set value = var('as_of_at', '') -%}
    {%- set value = value or (env_var('MAILROOM_AS_OF_AT', '') if execute else '') -%}
    {%- set value = value | string -%}
    {%- if value and not modules.re.match(
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}$', value
    ) -%}
        {{ exceptions.raise_compiler_error(
            "as_of_at must be a UTC timestamp written YYYY-MM-DDTHH:MM:SS, got '"
            ~ value ~ "'"
        ) }}
    {%- endif -%}
    {{ return(value | replace('T', ' ')) }}
{%- endmacro %}

{#
    The cut-off as a SQL timestamp. A unit test that pins the `as_of` var alone gets
    that date's midnight, whatever the environment holds.
#}
{% macro as_of_timestamp() -%}
    {%- set instant = as_of_at() -%}
    {%- if instant and not (var('as_of', '') and not var('as_of_at', '')) -%}
        cast('{{ instant }}' as timestamp)
    {%- else -%}
        cast('{{ as_of_date() }}' as timestamp)
    {%- endif -%}
{%- endmacro %}

{# True for a timestamp that happened before the as-of date. #}
{% macro before_as_of(column) -%}
    {{ column }} < {{ as_of_timestamp() }}
{%- endmacro %}
