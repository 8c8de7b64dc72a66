-- One row per campaign per recipient (email address) sent it before the as-of date:
-- the variant they were sent, when, and what they did with it. Opens flagged by the
-- ESP or matching machine_open_user_agent_patterns are machine opens (privacy
-- proxies, scanners) and kept apart from human opens.

with

email_events as (

    select * from {{ ref('stg_esp__email_events') }}
    where campaign_id is not null and {{ before_as_of('occurred_at') }}

),

emails as (

    select id_value as email, customer_id
    from {{ ref('int_identity_components') }}
    where id_type = 'email'

),

classified as (

    select
        email_events.campaign_id,
        email_events.email,
        email_events.variant,
        email_events.event_type,
        {{ is_machine_open('email_events') }} as is_machine_open,
        email_events.occurred_at
    from email_events

),

per_recipient as (

    select
        campaign_id,
        email,
        min(case when event_type = 'sent' then variant end) as variant,
        min(case when event_type = 'sent' then occurred_at end) as sent_at,
        count(case when event_type = 'open' and not is_machine_open then 1 end)
            as human_opens,
        count(case when event_type = 'open' and is_machine_open then 1 end)
            as machine_opens,
        count(case when event_type = 'click' then 1 end) as clicks,
        count(case when event_type = 'delivered' then 1 end) > 0 as is_delivered
    from classified
    group by campaign_id, email

),

final as (

    select
        per_recipient.campaign_id,
        per_recipient.email,
        emails.customer_id,
        coalesce(per_recipient.variant, 'none') as variant,
        per_recipient.human_opens,
        per_recipient.machine_opens,
        per_recipient.clicks,
        per_recipient.is_delivered,
        per_recipient.human_opens > 0 as has_human_open,
        per_recipient.machine_opens > 0 and per_recipient.human_opens = 0
            as has_machine_open_only,
        per_recipient.clicks > 0 as has_click,
        per_recipient.sent_at
    from per_recipient
    left join emails
        on per_recipient.email = emails.email
    -- Opens or clicks without a recorded send are not part of any variant.
    where per_recipient.sent_at is not null

)

select * from final
