-- Shown in Dagster as an asset check of quarantined_rows.
{{ config(meta={'dagster': {'ref': {'name': 'quarantined_rows'}}}) }}

-- Every raw row is either staged or quarantined, never both, never neither:
-- counted against the raw tables themselves, not the base models.
with

{% for item in staging_inventory() %}
{{ item.source }} as (

    select
        '{{ item.source }}' as source_name,
        (select count(*) from {{ source('raw', item.source) }}) as raw_rows,
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
where raw_rows != staged_rows + quarantined_rows
