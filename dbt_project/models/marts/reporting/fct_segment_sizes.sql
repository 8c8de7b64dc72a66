-- One row per segment type per segment as of the run's as-of date: how many people
-- are in it, how many of them may be emailed, and their share of all people. Counts
-- only, no person: what dashboards read.

with

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

people as (

    select count(*) as people from customers

),

members as (

    select
        segments.segment_type,
        segments.segment,
        segments.as_of_date,
        customers.is_email_sendable
    from segments
    inner join customers
        on segments.customer_id = customers.customer_id

),

sizes as (

    select
        segment_type,
        segment,
        as_of_date,
        count(*) as customers,
        count(case when is_email_sendable then 1 end) as sendable_customers
    from members
    group by segment_type, segment, as_of_date

),

final as (

    select
        {{ dbt.concat(['sizes.segment_type', "'|'", 'sizes.segment']) }}
            as segment_size_id,
        sizes.segment_type,
        sizes.segment,
        sizes.customers,
        sizes.sendable_customers,
        {{ round_float('sizes.customers * 1.0 / people.people', 4) }}
            as share_of_people,
        sizes.as_of_date
    from sizes
    cross join people

)

select * from final
