-- One row per person. Buyers (at least one revenue order before the as-of date) get
-- recency, frequency and monetary values, 1-5 scores and a segment from the
-- rfm_segment_grid seed; everyone else is in the explicit 'no_orders' segment.
--
-- Scoring, as in the widely published Online Retail recipe:
-- * R: quintile cut points of recency_days (linear interpolation); equal values share
--   a score; the most recent fifth scores 5.
-- * F: quintiles of the frequency rank, ties broken by the person's first shop
--   customer id (the order the source lists them in), so every score holds a fifth
--   of the buyers even when most bought once.
-- * M: quintile cut points of monetary; equal values share a score.

with

customers as (

    select customer_id from {{ ref('dim_customers') }}

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

shop_ids as (

    select customer_id, min(id_value) as first_shop_customer_id
    from {{ ref('int_identity_components') }}
    where id_type = 'customer_id'
    group by customer_id

),

segment_grid as (

    select * from {{ ref('rfm_segment_grid') }}

),

buyers as (

    select
        order_summary.customer_id,
        coalesce(shop_ids.first_shop_customer_id, order_summary.customer_id)
            as tie_break_key,
        order_summary.days_since_last_order as recency_days,
        order_summary.lifetime_orders as frequency,
        order_summary.lifetime_revenue as monetary,
        order_summary.last_order_at
    from order_summary
    left join shop_ids
        on order_summary.customer_id = shop_ids.customer_id

),

cut_points as (

    select
        percentile_cont(0.2) within group (order by recency_days) as recency_p20,
        percentile_cont(0.4) within group (order by recency_days) as recency_p40,
        percentile_cont(0.6) within group (order by recency_days) as recency_p60,
        percentile_cont(0.8) within group (order by recency_days) as recency_p80,
        percentile_cont(0.2) within group (order by monetary) as monetary_p20,
        percentile_cont(0.4) within group (order by monetary) as monetary_p40,
        percentile_cont(0.6) within group (order by monetary) as monetary_p60,
        percentile_cont(0.8) within group (order by monetary) as monetary_p80,
        count(*) as buyer_count
    from buyers

),

frequency_ranked as (

    select
        customer_id,
        row_number() over (order by frequency, tie_break_key) as frequency_rank
    from buyers

),

scored as (

    select
        buyers.customer_id,
        buyers.recency_days,
        buyers.frequency,
        buyers.monetary,
        case
            when buyers.recency_days <= cut_points.recency_p20 then 5
            when buyers.recency_days <= cut_points.recency_p40 then 4
            when buyers.recency_days <= cut_points.recency_p60 then 3
            when buyers.recency_days <= cut_points.recency_p80 then 2
            else 1
        end as r_score,
        case
            {% for score in range(1, 5) %}
                when
                    frequency_ranked.frequency_rank
                    <= 1 + (cut_points.buyer_count - 1) * {{ score / 5 }} then {{ score }}
            {% endfor %}
            else 5
        end as f_score,
        case
            when buyers.monetary <= cut_points.monetary_p20 then 1
            when buyers.monetary <= cut_points.monetary_p40 then 2
            when buyers.monetary <= cut_points.monetary_p60 then 3
            when buyers.monetary <= cut_points.monetary_p80 then 4
            else 5
        end as m_score,
        buyers.last_order_at

    from buyers
    inner join frequency_ranked
        on buyers.customer_id = frequency_ranked.customer_id
    cross join cut_points

),

final as (

    select
        customers.customer_id,
        coalesce(segment_grid.segment, 'no_orders') as rfm_segment,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        {{ dbt.concat([
            'cast(scored.r_score as ' ~ dbt.type_string() ~ ')',
            'cast(scored.f_score as ' ~ dbt.type_string() ~ ')',
            'cast(scored.m_score as ' ~ dbt.type_string() ~ ')'
        ]) }} as rfm_cell,
        cast('{{ as_of_date() }}' as date) as as_of_date,
        scored.last_order_at

    from customers
    left join scored
        on customers.customer_id = scored.customer_id
    left join segment_grid
        on
            scored.r_score = segment_grid.r_score
            and scored.f_score = segment_grid.f_score

)

select * from final
