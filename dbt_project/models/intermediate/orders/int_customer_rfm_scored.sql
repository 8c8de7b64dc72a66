-- One row per person. Buyers (a revenue order in the RFM window) get recency,
-- frequency and monetary values, scores from 1 to the grid's number of bins and the
-- segment of the configured grid (rfm_segment_grids seed, rfm_grid var). Everyone
-- else is in an explicit bucket: 'no_orders' (never bought before the as-of date) or
-- 'no_orders_in_window' (bought, but not within rfm_window_days).
--
-- Scoring:
-- * R: cut points of recency_days at the grid's quantiles (linear interpolation);
--   equal values share a score; the most recent score highest.
-- * F: with rfm_frequency_ties = 'rank' (default, the published Online Retail
--   recipe) quantiles of the frequency rank, ties broken by the person's first shop
--   customer id, so every score holds an equal share even when most bought once;
--   with 'shared', cut points like R and M, so equal values share a score and heavy
--   ties can leave scores empty (fct_rfm_score_bins reports it).
-- * M: cut points of monetary; equal values share a score.

{%- set bins = rfm_bins() %}

with

customers as (

    select
        people.customer_id,
        coalesce(order_summary.lifetime_orders, 0) as lifetime_orders
    from (
        select distinct customer_id from {{ ref('int_identity_components') }}
    ) as people
    left join {{ ref('int_customer_order_summary') }} as order_summary
        on people.customer_id = order_summary.customer_id

),

rfm_values as (

    select * from {{ ref('int_customer_rfm_values') }}

),

shop_ids as (

    select customer_id, min(id_value) as first_shop_customer_id
    from {{ ref('int_identity_components') }}
    where id_type = 'customer_id'
    group by customer_id

),

segment_grid as (

    select * from {{ ref('rfm_segment_grids') }}
    where grid = '{{ var("rfm_grid") }}'

),

buyers as (

    select
        rfm_values.*,
        coalesce(shop_ids.first_shop_customer_id, rfm_values.customer_id)
            as tie_break_key
    from rfm_values
    left join shop_ids
        on rfm_values.customer_id = shop_ids.customer_id

),

cut_points as (

    select
        {{ rfm_cut_points('recency_days', 'recency', bins) }},
        {{ rfm_cut_points('frequency', 'frequency', bins) }},
        {{ rfm_cut_points('monetary', 'monetary', bins) }},
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
        {{ rfm_score('buyers.recency_days', 'recency', bins, descending=true) }}
            as r_score,
        {% if var('rfm_frequency_ties') == 'rank' %}
            case
                {% for score in range(1, bins) %}
                    when
                        frequency_ranked.frequency_rank
                        <= 1 + (cut_points.buyer_count - 1) * {{ score / bins }}
                        then {{ score }}
                {% endfor %}
                else {{ bins }}
            end
        {% elif var('rfm_frequency_ties') == 'shared' %}
            {{ rfm_score('buyers.frequency', 'frequency', bins) }}
        {% else %}
            {{ exceptions.raise_compiler_error(
                "rfm_frequency_ties must be 'rank' or 'shared', got '"
                ~ var('rfm_frequency_ties') ~ "'"
            ) }}
        {% endif %} as f_score,
        {{ rfm_score('buyers.monetary', 'monetary', bins) }} as m_score,
        buyers.last_order_at

    from buyers
    inner join frequency_ranked
        on buyers.customer_id = frequency_ranked.customer_id
    cross join cut_points

),

segmented as (

    select
        scored.*,
        segment_grid.segment
    from scored
    left join segment_grid
        on
            scored.r_score = segment_grid.r_score
            and scored.f_score = segment_grid.f_score
            and (segment_grid.m_score is null or scored.m_score = segment_grid.m_score)

),

final as (

    select
        customers.customer_id,
        case
            when segmented.customer_id is not null
                then coalesce(segmented.segment, 'unmapped_cell')
            when customers.lifetime_orders > 0 then 'no_orders_in_window'
            else 'no_orders'
        end as rfm_segment,
        '{{ var("rfm_grid") }}' as rfm_grid,
        case
            when customers.lifetime_orders = 0 then 'never_bought'
            when customers.lifetime_orders = 1 then 'one_time_buyer'
            else 'repeat_buyer'
        end as buyer_type,
        segmented.recency_days,
        segmented.frequency,
        segmented.monetary,
        segmented.r_score,
        segmented.f_score,
        segmented.m_score,
        {{ dbt.concat([
            'cast(segmented.r_score as ' ~ dbt.type_string() ~ ')',
            'cast(segmented.f_score as ' ~ dbt.type_string() ~ ')',
            'cast(segmented.m_score as ' ~ dbt.type_string() ~ ')'
        ]) }} as rfm_cell,
        cast('{{ as_of_date() }}' as date) as as_of_date,
        segmented.last_order_at

    from customers
    left join segmented
        on customers.customer_id = segmented.customer_id

)

select * from final
