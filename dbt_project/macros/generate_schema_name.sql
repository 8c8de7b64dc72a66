{#
    Use a model's custom schema as the schema name itself (marts, not main_marts), as
    the table contracts in ARCHITECTURE.md name them. Models without one use the
    target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
