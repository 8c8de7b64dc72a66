{{
    config(
        materialized='incremental',
        unique_key='journey_step_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

-- One row per journey step ever issued to a person, with the as-of date it was first
-- due. A step issued on an earlier run is never issued again; re-running the same
-- as-of date re-issues only that date's steps.

with

candidates as (

    select * from {{ ref('int_journey_candidates') }}

)

{% if is_incremental() %}
    , issued_before as (

        select journey_step_id from {{ this }}
        where first_due_date < cast('{{ as_of_date() }}' as date)

    )
{% endif %}

select
    candidates.journey_step_id,
    candidates.customer_id,
    candidates.journey,
    candidates.step_key,
    candidates.product_id,
    cast('{{ as_of_date() }}' as date) as first_due_date,
    candidates.due_at
from candidates
{% if is_incremental() %}
    left join issued_before
        on candidates.journey_step_id = issued_before.journey_step_id
    where issued_before.journey_step_id is null
{% endif %}
