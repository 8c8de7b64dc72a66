{# True when the whole of `expression` matches the regular expression `pattern`. #}
{% macro regex_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'mailroom')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_full_match(expression, pattern) -%}
    ({{ expression }} ~ '^({{ pattern }})$')
{%- endmacro %}
