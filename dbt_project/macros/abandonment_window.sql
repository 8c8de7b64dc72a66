{#
    The abandonment window in whole seconds. The var is in hours and may be a
    fraction (a test shortens it to seconds), which an hour interval would truncate.
#}
{% macro abandonment_window_seconds() -%}
    {%- set hours = var('abandonment_window_hours') | float -%}
    {%- if hours <= 0 -%}
        {{ exceptions.raise_compiler_error(
            "abandonment_window_hours must be above 0, got '"
            ~ var('abandonment_window_hours') ~ "'"
        ) }}
    {%- endif -%}
    {{ return((hours * 3600) | round | int) }}
{%- endmacro %}
