{#
    Fails when a source has gone quiet: its newest `column_name` before the as-of
    date is more than var('source_max_age_days')[source_name] days old (an order
    export that stopped, an ESP webhook that broke). A table with no rows passes:
    every source but orders is optional. Declared with severity warn, so a stale
    source shows as a failed asset check without stopping the run.
#}
{% test fresh_as_of(model, column_name, source_name) %}
    {%- set max_age_days = var('source_max_age_days')[source_name] -%}

    with newest as (

        select max({{ column_name }}) as newest_at
        from {{ model }}
        where {{ before_as_of(column_name) }}

    )

    select
        newest_at,
        {{ max_age_days }} as max_age_days
    from newest
    where newest_at < {{ dbt.dateadd('day', -max_age_days, as_of_timestamp()) }}
{% endtest %}
