{#
    The two-sided critical value of the standard normal distribution for a
    confidence level, from a table: the levels people quote are few, and an inverse
    CDF in portable SQL is not worth its error.
#}
{% macro z_critical(confidence_level) -%}
    {%- set table = {
        '0.8': 1.2815516, '0.9': 1.6448536, '0.95': 1.9599640, '0.99': 2.5758293
    } -%}
    {%- set key = (confidence_level | string) -%}
    {%- if key not in table -%}
        {{ exceptions.raise_compiler_error(
            "ab_confidence_level must be one of 0.8, 0.9, 0.95, 0.99; got '"
            ~ key ~ "'"
        ) }}
    {%- endif -%}
    {{ return(table[key]) }}
{%- endmacro %}
