-- One row per person with email events before the as-of date: human opens and
-- clicks in the last engagement_window_days (machine opens, such as Apple Mail
-- Privacy Protection prefetches, never count), the weighted engagement score and the
-- tier. A person with no human open or click ever is never_engaged; one who engaged
-- before the window but not in it is dormant.

with

email_events as (

    select * from {{ ref('stg_esp__email_events') }}
    where {{ before_as_of('occurred_at') }}

),

emails as (

    select id_value as email, customer_id
    from {{ ref('int_identity_components') }}
    where id_type = 'email'

),

classified as (

    select
        emails.customer_id,
        email_events.event_type,
        {{ is_machine_open('email_events') }} as is_machine_open,
        email_events.occurred_at >= {{ dbt.dateadd(
            'day', -1 * var('engagement_window_days'), as_of_timestamp()
        ) }} as is_in_window,
        email_events.occurred_at
    from email_events
    inner join emails
        on email_events.email = emails.email

),

per_customer as (

    select
        customer_id,
        count(
            case
                when event_type = 'open' and not is_machine_open and is_in_window
                    then 1
            end
        ) as human_opens,
        count(
            case
                when event_type = 'open' and is_machine_open and is_in_window
                    then 1
            end
        ) as machine_opens,
        count(case when event_type = 'click' and is_in_window then 1 end) as clicks,
        count(
            case when event_type = 'delivered' and is_in_window then 1 end
        ) as deliveries,
        max(
            case
                when
                    event_type = 'click'
                    or (event_type = 'open' and not is_machine_open)
                    then occurred_at
            end
        ) as last_engaged_at
    from classified
    group by customer_id

),

scored as (

    select
        *,
        human_opens * {{ var('engagement_open_weight') }}
        + clicks * {{ var('engagement_click_weight') }} as engagement_score
    from per_customer

)

select
    customer_id,
    case
        when last_engaged_at is null then 'never_engaged'
        when engagement_score >= {{ var('engagement_high_score') }}
            then 'highly_engaged'
        when engagement_score > 0 then 'moderately_engaged'
        else 'dormant'
    end as engagement_tier,
    human_opens,
    machine_opens,
    clicks,
    deliveries,
    engagement_score,
    last_engaged_at
from scored
