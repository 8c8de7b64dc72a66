with

{% for item in staging_inventory() %}
    {{ item.source }} as (

        select
            '{{ item.source }}' as source_name,
            (select count(*) from {{ ref(item.base) }}) as raw_rows,
            (select count(*) from {{ ref(item.staged) }}) as staged_rows,
            (
                select count(*) from {{ ref('quarantined_rows') }}
                where source_name = '{{ item.source }}'
            ) as quarantined_rows

    ),

{% endfor %}
unioned as (

    {% for item in staging_inventory() %}
        select * from {{ item.source }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
