{#
    No text column of the model holds a value with an @: no email address, raw or
    normalized, reaches it. Every text column is checked, whatever its name, so a
    column added later is covered too. One row per offending column and value.
#}
{% test holds_no_email_address(model) %}

{%- set columns = adapter.get_columns_in_relation(model) if execute else [] -%}
{%- set text_columns = [] -%}
{%- for column in columns if column.is_string() -%}
    {%- do text_columns.append(column) -%}
{%- endfor %}

{% for column in text_columns %}
    select
        '{{ column.name }}' as column_name,
        cast({{ adapter.quote(column.name) }} as {{ dbt.type_string() }}) as value
    from {{ model }}
    where {{ adapter.quote(column.name) }} like '%@%'
    {% if not loop.last %}union all{% endif %}
{% else %}
    select
        cast(null as {{ dbt.type_string() }}) as column_name,
        cast(null as {{ dbt.type_string() }}) as value
    where 1 = 0
{% endfor %}

{% endtest %}
