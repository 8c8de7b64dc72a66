-- One row per person: computed traits for targeting and templates, all from data
-- before the as-of date.

with

customers as (

    select customer_id from {{ ref('int_identity_components') }}
    group by customer_id

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

revenue_orders as (

    select * from {{ ref('int_orders_resolved') }}
    where is_revenue_order

),

spend_affinity as (

    select * from {{ ref('int_customer_category_affinity') }}

),

bought as (

    select * from {{ ref('int_customer_products_bought') }}
    where category is not null

),

views as (

    select * from {{ ref('int_web_events_enriched') }}
    where
        event_type = 'product_view'
        and customer_id is not null
        and product_category is not null

),

email_activity as (

    select
        emails.customer_id,
        email_events.occurred_at
    from {{ ref('stg_esp__email_events') }} as email_events
    inner join {{ ref('int_identity_components') }} as emails
        on emails.id_type = 'email' and email_events.email = emails.id_value
    where
        {{ before_as_of('email_events.occurred_at') }}
        and (
            email_events.event_type = 'click'
            or (email_events.event_type = 'open' and not email_events.is_machine_open)
        )

),

view_category_ranked as (

    select
        customer_id,
        product_category,
        row_number() over (
            partition by customer_id
            order by count(*) desc, max(occurred_at) desc, product_category
        ) as category_rank
    from views
    group by customer_id, product_category

),

last_category_ranked as (

    select
        customer_id,
        category,
        row_number() over (
            partition by customer_id order by last_bought_at desc, category asc
        ) as recency_rank
    from bought

),

discounts as (

    select
        customer_id,
        avg(case when discount_amount > 0 then 1.0 else 0.0 end) as discount_affinity
    from revenue_orders
    group by customer_id

),

send_hours_ranked as (

    select
        customer_id,
        extract(hour from occurred_at) as send_hour,
        row_number() over (
            partition by customer_id
            order by count(*) desc, extract(hour from occurred_at)
        ) as hour_rank
    from email_activity
    group by customer_id, extract(hour from occurred_at)

),

final as (

    select
        customers.customer_id,
        spend_affinity.preferred_category as preferred_category_by_spend,
        view_category_ranked.product_category as preferred_category_by_views,
        last_category_ranked.category as last_purchased_category,
        order_summary.lifetime_revenue / order_summary.lifetime_orders
            as average_order_value,
        case
            when order_summary.lifetime_orders > 1
                then {{ days_between(
                    'order_summary.first_order_at', 'order_summary.last_order_at'
                ) }} * 1.0 / (order_summary.lifetime_orders - 1)
        end as average_days_between_orders,
        discounts.discount_affinity,
        cast(send_hours_ranked.send_hour as {{ dbt.type_int() }})
            as preferred_send_hour_utc

    from customers
    left join order_summary
        on customers.customer_id = order_summary.customer_id
    left join spend_affinity
        on customers.customer_id = spend_affinity.customer_id
    left join view_category_ranked
        on
            customers.customer_id = view_category_ranked.customer_id
            and view_category_ranked.category_rank = 1
    left join last_category_ranked
        on
            customers.customer_id = last_category_ranked.customer_id
            and last_category_ranked.recency_rank = 1
    left join discounts
        on customers.customer_id = discounts.customer_id
    left join send_hours_ranked
        on
            customers.customer_id = send_hours_ranked.customer_id
            and send_hours_ranked.hour_rank = 1

)

select * from final
