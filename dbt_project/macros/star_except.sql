{#
    The columns of `relation` except those named, as a select list; lets a staged
    model pass its base model's columns through without repeating them.
#}
{% macro star_except(relation, except) -%}
    {%- if not execute -%}
        {{ return('*') }}
    {%- endif -%}
    {%- set excluded = except | map('lower') | list -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in excluded -%}
            {%- do columns.append(adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(columns | join(',\n    ')) }}
{%- endmacro %}

{# The valid rows of a base model: every column but the quarantine reason. #}
{% macro staged_rows(base_model) -%}
select {{ mailroom.star_except(ref(base_model), ['quarantine_reason']) }}
from {{ ref(base_model) }}
where quarantine_reason is null
{%- endmacro %}

{#
    Quarantines all but one valid row of each key: the first delivered (keep='first',
    for facts re-delivered as exact copies) or the last (keep='last', for entities
    whose later rows are updates). Rows quarantined for another reason keep it.
#}
{% macro dedupe_reason(key, reason, duplicate_reason, keep='first') -%}
    {%- set direction = 'asc' if keep == 'first' else 'desc' -%}
    case
        when {{ reason }} is not null then {{ reason }}
        when row_number() over (
            partition by {{ key }}, ({{ reason }} is null)
            order by
                loaded_at {{ direction }},
                file_name {{ direction }},
                file_row_number {{ direction }}
        ) > 1 then '{{ duplicate_reason }}'
    end
{%- endmacro %}
