-- One row per person per triggered message due on the run's as-of date: at most one
-- step per journey (the latest due), never a step issued before.

with

steps as (

    select * from {{ ref('fct_journey_steps') }}
    where first_due_date = cast('{{ as_of_date() }}' as date)

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, journey
            order by due_at desc, step_key desc
        ) as journey_rank
    from steps

)

select
    journey_step_id,
    customer_id,
    journey,
    step_key,
    product_id,
    first_due_date,
    due_at
from ranked
where journey_rank = 1
