{#
    The staged rows of `child` whose `foreign_key` names no row of `parent`, as
    quality.orphan_rows lists them. Runs only once `parent` has rows, so a source
    nobody delivers does not make every child an orphan.
#}
{% macro orphan_check(source_name, child, record_key, foreign_key, parent, reason) -%}
    select
        '{{ source_name }}' as source_name,
        children.file_name,
        children.file_row_number,
        children.{{ record_key }} as record_key,
        '{{ foreign_key }}' as foreign_key_column,
        children.{{ foreign_key }} as foreign_key,
        '{{ reason }}' as orphan_reason
    from {{ ref(child) }} as children
    where
        children.{{ foreign_key }} is not null
        and exists (select 1 from {{ ref(parent) }})
        and not exists (
            select 1 from {{ ref(parent) }} as parents
            where parents.{{ foreign_key }} = children.{{ foreign_key }}
        )
{%- endmacro %}
