-- One row per campaign per variant: how many recipients were sent it, opened it
-- (humans apart from machines), clicked, and converted within the attribution
-- window, and the revenue of their attributed orders.

with

recipients as (

    select * from {{ ref('int_campaign_recipients') }}

),

conversions as (

    select * from {{ ref('int_campaign_conversions') }}

),

converted as (

    select
        campaign_id,
        variant,
        email,
        count(*) as conversions,
        sum(revenue) as revenue
    from conversions
    group by campaign_id, variant, email

),

final as (

    select
        {{ dbt.concat(['recipients.campaign_id', "'|'", 'recipients.variant']) }}
            as campaign_variant_id,
        recipients.campaign_id,
        recipients.variant,
        count(*) as sends,
        count(case when recipients.is_delivered then 1 end) as deliveries,
        count(case when recipients.has_human_open then 1 end) as human_openers,
        count(case when recipients.has_machine_open_only then 1 end)
            as machine_only_openers,
        cast(sum(recipients.human_opens) as {{ dbt.type_bigint() }}) as human_opens,
        cast(sum(recipients.machine_opens) as {{ dbt.type_bigint() }})
            as machine_opens,
        count(case when recipients.has_click then 1 end) as clickers,
        count(converted.email) as converters,
        cast(coalesce(sum(converted.conversions), 0) as {{ dbt.type_bigint() }})
            as conversions,
        coalesce(sum(converted.revenue), 0) as revenue,
        min(recipients.sent_at) as first_sent_at,
        max(recipients.sent_at) as last_sent_at
    from recipients
    left join converted
        on
            recipients.campaign_id = converted.campaign_id
            and recipients.variant = converted.variant
            and recipients.email = converted.email
    group by recipients.campaign_id, recipients.variant

)

select * from final
