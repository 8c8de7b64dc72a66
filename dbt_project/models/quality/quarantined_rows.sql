{{ config(materialized='table') }}

with

{% for item in staging_inventory() %}
    {{ item.source }} as (

        select
            '{{ item.source }}' as source_name,
            file_name,
            file_row_number,
            cast({{ item.key }} as {{ dbt.type_string() }}) as record_key,
            quarantine_reason,
            loaded_at

        from {{ ref(item.base) }}
        where quarantine_reason is not null

    ),

{% endfor %}
unioned as (

    {% for item in staging_inventory() %}
        select * from {{ item.source }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
