-- One row per RFM dimension per score: how many buyers hold it and the range of
-- values it covers, so heavy ties are visible instead of silent. A score with no
-- buyers means its cut points collapsed (with shared ties, "most bought once" does
-- this to F); a value in two scores was split by the rank tie-break.

{%- set bins = rfm_bins() %}

with

rfm as (

    select * from {{ ref('fct_customer_rfm') }}
    where r_score is not null

),

scores as (

    {% for score in range(1, bins + 1) %}
        select {{ score }} as score
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

dimensions as (

    select 'recency' as dimension, r_score as score, recency_days as value from rfm
    union all
    select 'frequency' as dimension, f_score as score, frequency as value from rfm
    union all
    select 'monetary' as dimension, m_score as score, monetary as value from rfm

),

per_score as (

    select
        dimension,
        score,
        count(*) as buyers,
        min(value) as min_value,
        max(value) as max_value
    from dimensions
    group by dimension, score

),

all_cells as (

    select
        names.dimension,
        scores.score
    from (
        select distinct dimension from dimensions
    ) as names
    cross join scores

),

final as (

    select
        all_cells.dimension || ':' || cast(all_cells.score as {{ dbt.type_string() }})
            as score_bin_id,
        all_cells.dimension,
        all_cells.score,
        coalesce(per_score.buyers, 0) as buyers,
        per_score.min_value,
        per_score.max_value,
        coalesce(per_score.buyers, 0) = 0 as is_empty,
        coalesce(
            per_score.max_value >= lead(per_score.min_value) over (
                partition by all_cells.dimension
                order by per_score.min_value, all_cells.score
            ),
            false
        ) as shares_values_with_another_score

    from all_cells
    left join per_score
        on
            all_cells.dimension = per_score.dimension
            and all_cells.score = per_score.score

)

select * from final
