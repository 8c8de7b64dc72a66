-- The hand-written reference for bench/segments.py: the RFM scores and every
-- segment rule with the default vars, in one DuckDB script. $as_of is replaced
-- with the as-of timestamp.
create or replace schema bench;
create or replace table bench.reference_segments as
with
orders as (select * from intermediate.int_orders_resolved),
buyers as (
    select customer_id,
        count(*) filter (where is_revenue_order) as frequency,
        sum(case when is_revenue_order or total_amount < 0 then total_amount else 0 end)
            as monetary,
        max(ordered_at) filter (where is_revenue_order) as last_order_at
    from orders group by 1 having count(*) filter (where is_revenue_order) > 0
),
valued as (
    select b.*, floor(epoch($as_of - last_order_at) / 86400) as recency,
        min(id_value) as tie
    from buyers b left join intermediate.int_identity_components i
        on i.customer_id = b.customer_id and i.id_type = 'customer_id'
    group by all
),
cuts as (
    select quantile_cont(recency, [0.2, 0.4, 0.6, 0.8]) as r,
        quantile_cont(monetary, [0.2, 0.4, 0.6, 0.8]) as m, count(*) as n
    from valued
),
scored as (
    select v.customer_id,
        case when v.recency <= c.r[1] then 5 when v.recency <= c.r[2] then 4
             when v.recency <= c.r[3] then 3 when v.recency <= c.r[4] then 2
             else 1 end as r_score,
        case when row_number() over (order by v.frequency, v.tie) <= 1 + (c.n - 1) * 0.2 then 1
             when row_number() over (order by v.frequency, v.tie) <= 1 + (c.n - 1) * 0.4 then 2
             when row_number() over (order by v.frequency, v.tie) <= 1 + (c.n - 1) * 0.6 then 3
             when row_number() over (order by v.frequency, v.tie) <= 1 + (c.n - 1) * 0.8 then 4
             else 5 end as f_score
    from valued v, cuts c
),
rfm as (
    select s.customer_id, g.segment
    from scored s join seeds.rfm_segment_grids g
        on g.grid = 'standard' and g.r_score = s.r_score and g.f_score = s.f_score
),
summary as (select * from intermediate.int_customer_order_summary),
purchases as (select * from intermediate.int_order_product_purchases),
carts as (
    select e.customer_id, e.occurred_at + interval 48 hour as ends_at
    from intermediate.int_web_events_enriched e
    where e.event_type = 'add_to_cart' and e.customer_id is not null
      and e.occurred_at + interval 48 hour <= $as_of
      and e.occurred_at + interval 48 hour >= $as_of - interval 14 day
      and not exists (select 1 from purchases p where p.customer_id = e.customer_id
          and p.product_id = e.product_id and p.ordered_at > e.occurred_at
          and p.ordered_at <= e.occurred_at + interval 48 hour)
),
recent_events as (
    select * from intermediate.int_web_events_enriched
    where customer_id is not null and product_id is not null
      and occurred_at >= $as_of - interval 14 day
),
views as (
    select customer_id, product_id, min(occurred_at) as first_at, max(occurred_at) as last_at
    from recent_events where event_type = 'product_view'
    group by all having count(*) >= 2
),
browse as (
    select v.customer_id from views v
    where v.last_at + interval 48 hour <= $as_of
      and not exists (select 1 from recent_events c where c.event_type = 'add_to_cart'
          and c.customer_id = v.customer_id and c.product_id = v.product_id
          and c.occurred_at >= v.first_at)
      and not exists (select 1 from purchases p where p.customer_id = v.customer_id
          and p.product_id = v.product_id and p.ordered_at > v.first_at
          and p.ordered_at <= v.last_at + interval 48 hour)
),
hvb as (
    select s.customer_id from intermediate.int_web_sessions s
    where s.customer_id is not null and s.started_at >= $as_of - interval 30 day
    group by 1
    having count(*) >= 5 and sum(viewed_value) >= 500
       and (select count(*) from orders o where o.customer_id = s.customer_id
            and o.is_revenue_order and o.ordered_at >= $as_of - interval 30 day) <= 1
),
engagement as (
    select i.customer_id,
        sum(case when e.occurred_at >= $as_of - interval 90 day then
            case when e.event_type = 'click' then 3
                 when e.event_type = 'open' and not (e.is_machine_open
                      or lower(coalesce(e.user_agent, '')) like '%applemailproxy%'
                      or lower(coalesce(e.user_agent, '')) like '%mail privacy protection%')
                 then 1 else 0 end else 0 end) as score,
        bool_or(e.event_type = 'click' or (e.event_type = 'open' and not (e.is_machine_open
                      or lower(coalesce(e.user_agent, '')) like '%applemailproxy%'
                      or lower(coalesce(e.user_agent, '')) like '%mail privacy protection%')))
            as ever
    from staging.stg_esp__email_events e
    join intermediate.int_identity_components i on i.id_type = 'email' and i.id_value = e.email
    where e.occurred_at < $as_of
    group by 1
),
opt_ins as (
    select i.customer_id, min(c.occurred_at) as first_at
    from intermediate.int_email_consent_events c
    join intermediate.int_identity_components i on i.id_type = 'email' and i.id_value = c.email
    where c.consent_status = 'opted_in' group by 1
),
everyone as (select distinct customer_id from intermediate.int_identity_components)
select customer_id, 'rfm' as segment_type,
    coalesce((select segment from rfm where rfm.customer_id = everyone.customer_id),
        case when exists (select 1 from summary where summary.customer_id = everyone.customer_id)
            then 'no_orders_in_window' else 'no_orders' end) as segment
from everyone
union all select customer_id, 'behaviour', 'vip' from summary where recent_revenue > 1000
union all select customer_id, 'behaviour', 'frequent_buyer' from orders
    where is_revenue_order and ordered_at >= $as_of - interval 365 day
    group by 1 having count(*) >= 4
union all select o.customer_id, 'lifecycle', 'new_subscriber' from opt_ins o
    join intermediate.int_customer_email_consent c using (customer_id)
    where o.first_at >= $as_of - interval 30 day and c.person_consent_status = 'opted_in'
      and o.customer_id not in (select customer_id from summary)
union all select distinct customer_id, 'behaviour', 'cart_abandoner' from carts
union all select distinct customer_id, 'behaviour', 'browse_abandoner' from browse
union all select customer_id, 'behaviour', 'high_value_browser' from hvb
union all select customer_id, 'lifecycle',
    case when days_since_last_order >= 180 then 'dormant'
         when days_since_last_order >= 90 then 'winback_90'
         when days_since_last_order >= 60 then 'winback_60' else 'winback_30' end
    from summary where days_since_last_order >= 30
union all select customer_id, 'engagement',
    case when not ever then 'never_engaged' when score >= 6 then 'highly_engaged'
         when score > 0 then 'moderately_engaged' else 'dormant' end
    from engagement;
