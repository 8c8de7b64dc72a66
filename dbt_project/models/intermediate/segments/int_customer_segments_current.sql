-- One row per person per segment they are in as of the run's as-of date, with the
-- rule and the values that put them there, and when the qualifying event happened
-- where there is one. Thresholds are vars in dbt_project.yml; "over" is strict.

{%- set stages = var('winback_stage_days') | sort %}

with

rfm as (

    select * from {{ ref('int_customer_rfm_scored') }}

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

revenue_orders as (

    select * from {{ ref('int_orders_resolved') }}
    where is_revenue_order

),

first_opt_ins as (

    select * from {{ ref('int_customer_first_opt_ins') }}

),

person_consent as (

    select customer_id, person_consent_status
    from {{ ref('int_customer_email_consent') }}

),

engagement as (

    select * from {{ ref('int_customer_email_engagement') }}

),

cart_abandonments as (

    select * from {{ ref('int_cart_abandonments') }}
    where
        is_abandoned
        and window_ends_at >= {{ dbt.dateadd(
            'day', -1 * var('abandonment_lookback_days'), as_of_timestamp()
        ) }}

),

browse_abandonments as (

    select * from {{ ref('int_browse_abandonments') }}

),

sessions as (

    select * from {{ ref('int_web_sessions') }}
    where
        customer_id is not null
        and started_at >= {{ dbt.dateadd(
            'day', -1 * var('high_value_browser_window_days'), as_of_timestamp()
        ) }}

),

rfm_segments as (

    select
        customer_id,
        'rfm' as segment_type,
        rfm_segment as segment,
        case
            when r_score is null then 'no revenue order in the RFM window'
            else {{ dbt.concat([
                "'r_score='", 'cast(r_score as ' ~ dbt.type_string() ~ ')',
                "', f_score='", 'cast(f_score as ' ~ dbt.type_string() ~ ')',
                "', m_score='", 'cast(m_score as ' ~ dbt.type_string() ~ ')',
                "' (recency_days='", 'cast(recency_days as ' ~ dbt.type_string() ~ ')',
                "', frequency='", 'cast(frequency as ' ~ dbt.type_string() ~ ')',
                "') in grid " ~ var('rfm_grid') ~ "'"
            ]) }}
        end as reason,
        last_order_at as qualified_at
    from rfm

),

vip as (

    select
        customer_id,
        'behaviour' as segment_type,
        'vip' as segment,
        {{ dbt.concat([
            "'spent '", 'cast(recent_revenue as ' ~ dbt.type_string() ~ ')',
            "' in the last " ~ var('vip_window_days') ~ " days (over "
            ~ var('vip_min_spend') ~ ")'"
        ]) }} as reason,
        last_order_at as qualified_at
    from order_summary
    where recent_revenue > {{ var('vip_min_spend') }}

),

frequent_buyers as (

    select
        customer_id,
        'behaviour' as segment_type,
        'frequent_buyer' as segment,
        {{ dbt.concat([
            'cast(count(*) as ' ~ dbt.type_string() ~ ')',
            "' orders in the last " ~ var('frequent_buyer_window_days')
            ~ " days (at least " ~ var('frequent_buyer_min_orders') ~ ")'"
        ]) }} as reason,
        max(ordered_at) as qualified_at
    from revenue_orders
    where ordered_at >= {{ dbt.dateadd(
        'day', -1 * var('frequent_buyer_window_days'), as_of_timestamp()
    ) }}
    group by customer_id
    having count(*) >= {{ var('frequent_buyer_min_orders') }}

),

new_subscribers as (

    select
        first_opt_ins.customer_id,
        'lifecycle' as segment_type,
        'new_subscriber' as segment,
        {{ dbt.concat([
            "'first opted in '",
            'cast(first_opt_ins.first_opted_in_at as ' ~ dbt.type_string() ~ ')',
            "', within " ~ var('new_subscriber_window_days')
            ~ " days, and has not ordered'"
        ]) }} as reason,
        first_opt_ins.first_opted_in_at as qualified_at
    from first_opt_ins
    inner join person_consent
        on first_opt_ins.customer_id = person_consent.customer_id
    left join order_summary
        on first_opt_ins.customer_id = order_summary.customer_id
    where
        first_opt_ins.first_opted_in_at >= {{ dbt.dateadd(
            'day', -1 * var('new_subscriber_window_days'), as_of_timestamp()
        ) }}
        and person_consent.person_consent_status = 'opted_in'
        and order_summary.customer_id is null

),

cart_abandoners as (

    select
        customer_id,
        'behaviour' as segment_type,
        'cart_abandoner' as segment,
        {{ dbt.concat([
            'cast(count(*) as ' ~ dbt.type_string() ~ ')',
            "' cart adds with no order of the product within "
            ~ var('abandonment_window_hours') ~ " h (last ended '",
            'cast(max(window_ends_at) as ' ~ dbt.type_string() ~ ')', "')'"
        ]) }} as reason,
        max(window_ends_at) as qualified_at
    from cart_abandonments
    group by customer_id

),

browse_abandoners as (

    select
        customer_id,
        'behaviour' as segment_type,
        'browse_abandoner' as segment,
        {{ dbt.concat([
            "'viewed '", 'cast(count(*) as ' ~ dbt.type_string() ~ ')',
            "' products at least " ~ var('browse_abandoner_min_views')
            ~ " times without a cart or an order'"
        ]) }} as reason,
        max(window_ends_at) as qualified_at
    from browse_abandonments
    group by customer_id

),

high_value_browsers as (

    select
        sessions.customer_id,
        'behaviour' as segment_type,
        'high_value_browser' as segment,
        {{ dbt.concat([
            'cast(count(*) as ' ~ dbt.type_string() ~ ')', "' sessions viewing '",
            'cast(sum(sessions.viewed_value) as ' ~ dbt.type_string() ~ ')',
            "' of products in " ~ var('high_value_browser_window_days') ~ " days'"
        ]) }} as reason,
        max(sessions.ended_at) as qualified_at
    from sessions
    left join (
        select customer_id, count(*) as orders
        from revenue_orders
        where ordered_at >= {{ dbt.dateadd(
            'day', -1 * var('high_value_browser_window_days'), as_of_timestamp()
        ) }}
        group by customer_id
    ) as recent_orders
        on sessions.customer_id = recent_orders.customer_id
    group by sessions.customer_id
    having
        count(*) >= {{ var('high_value_browser_min_sessions') }}
        and sum(sessions.viewed_value) >= {{ var('high_value_browser_min_view_value') }}
        and coalesce(max(recent_orders.orders), 0)
        <= {{ var('high_value_browser_max_orders') }}

),

lapsed as (

    select
        customer_id,
        'lifecycle' as segment_type,
        case
            when days_since_last_order >= {{ var('dormant_days') }} then 'dormant'
            {% for stage in stages | reverse %}
                when days_since_last_order >= {{ stage }}
                    then 'winback_{{ stage }}'
            {% endfor %}
        end as segment,
        {{ dbt.concat([
            'cast(days_since_last_order as ' ~ dbt.type_string() ~ ')',
            "' days since the last order'"
        ]) }} as reason,
        last_order_at as qualified_at
    from order_summary
    where days_since_last_order >= {{ stages[0] }}

),

engagement_tiers as (

    select
        customer_id,
        'engagement' as segment_type,
        engagement_tier as segment,
        {{ dbt.concat([
            "'score '", 'cast(engagement_score as ' ~ dbt.type_string() ~ ')',
            "' from '", 'cast(human_opens as ' ~ dbt.type_string() ~ ')',
            "' human opens and '", 'cast(clicks as ' ~ dbt.type_string() ~ ')',
            "' clicks in " ~ var('engagement_window_days') ~ " days ('",
            'cast(machine_opens as ' ~ dbt.type_string() ~ ')',
            "' machine opens ignored)'"
        ]) }} as reason,
        last_engaged_at as qualified_at
    from engagement

),

unioned as (

    select * from rfm_segments
    union all
    select * from vip
    union all
    select * from frequent_buyers
    union all
    select * from new_subscribers
    union all
    select * from cart_abandoners
    union all
    select * from browse_abandoners
    union all
    select * from high_value_browsers
    union all
    select * from lapsed
    union all
    select * from engagement_tiers

)

select
    {{ dbt.concat(['customer_id', "'|'", 'segment_type', "'|'", 'segment']) }}
        as customer_segment_id,
    customer_id,
    segment_type,
    segment,
    reason,
    cast('{{ as_of_date() }}' as date) as as_of_date,
    qualified_at
from unioned
