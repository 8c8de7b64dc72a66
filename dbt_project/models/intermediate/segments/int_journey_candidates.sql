-- One row per triggered-message step a person qualifies for as of the run's as-of
-- date. A step's key names what it is about (the order, the product, the lapse), so
-- the history in fct_journey_steps can make sure no step is ever sent twice. Steps
-- that became due more than journey_due_window_days ago are stale and left out.

{%- set welcome_days = var('welcome_step_days') | sort %}
{%- set stages = var('winback_stage_days') | sort %}

with

first_opt_ins as (

    select * from {{ ref('int_customer_first_opt_ins') }}

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

last_orders as (

    select customer_id, order_id, ordered_at
    from (
        select
            customer_id,
            order_id,
            ordered_at,
            row_number() over (
                partition by customer_id order by ordered_at desc, order_id desc
            ) as recency_rank
        from {{ ref('int_orders_resolved') }}
        where is_revenue_order
    ) as ranked
    where recency_rank = 1

),

cart_abandonments as (

    select * from {{ ref('int_cart_abandonments') }}
    where is_abandoned

),

browse_abandonments as (

    select * from {{ ref('int_browse_abandonments') }}

),

welcome as (

    select
        first_opt_ins.customer_id,
        'welcome' as journey,
        'welcome_' || cast(step.step_number as {{ dbt.type_string() }}) as step_key,
        cast(null as {{ dbt.type_string() }}) as product_id,
        {{ dbt.dateadd('day', 'step.step_day', 'first_opt_ins.first_opted_in_at') }}
            as due_at
    from first_opt_ins
    cross join (
        {% for day in welcome_days %}
            select {{ loop.index }} as step_number, {{ day }} as step_day
            {% if not loop.last %}union all{% endif %}
        {% endfor %}
    ) as step
    left join order_summary
        on first_opt_ins.customer_id = order_summary.customer_id
    where order_summary.customer_id is null

),

post_purchase as (

    select
        customer_id,
        'post_purchase' as journey,
        'post_purchase:' || order_id as step_key,
        cast(null as {{ dbt.type_string() }}) as product_id,
        {{ dbt.dateadd('day', var('post_purchase_days'), 'ordered_at') }} as due_at
    from last_orders

),

abandoned_cart as (

    select
        customer_id,
        'abandoned_cart' as journey,
        'cart:' || product_id as step_key,
        product_id,
        window_ends_at as due_at
    from cart_abandonments

),

browse_abandonment as (

    select
        customer_id,
        'browse_abandonment' as journey,
        'browse:' || product_id as step_key,
        product_id,
        window_ends_at as due_at
    from browse_abandonments

),

winback as (

    {% for stage in stages %}
        select
            customer_id,
            'winback' as journey,
            'winback_{{ stage }}:' || order_id as step_key,
            cast(null as {{ dbt.type_string() }}) as product_id,
            {{ dbt.dateadd('day', stage, 'ordered_at') }} as due_at
        from last_orders
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

unioned as (

    select * from welcome
    union all
    select * from post_purchase
    union all
    select * from abandoned_cart
    union all
    select * from browse_abandonment
    union all
    select * from winback

)

-- The same step can qualify more than once (a product added to the cart twice):
-- it is one step, due at its latest qualifying time.
select
    {{ dbt.concat(['customer_id', "'|'", 'journey', "'|'", 'step_key']) }}
        as journey_step_id,
    customer_id,
    journey,
    step_key,
    max(product_id) as product_id,
    max(due_at) as due_at
from unioned
where
    due_at <= {{ as_of_timestamp() }}
    and due_at > {{ dbt.dateadd(
        'day', -1 * var('journey_due_window_days'), as_of_timestamp()
    ) }}
group by customer_id, journey, step_key
