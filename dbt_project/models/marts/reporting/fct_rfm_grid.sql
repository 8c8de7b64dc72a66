-- One row per recency score per frequency score among scored buyers: how many
-- people sit in the cell, their average spend and recency, and the cell's most
-- common segment (the grid may split a cell by monetary score). What an RFM
-- heatmap reads; no person.

with

rfm as (

    select * from {{ ref('fct_customer_rfm') }}
    where r_score is not null and f_score is not null

),

cell_segments as (

    select
        r_score,
        f_score,
        rfm_segment,
        as_of_date,
        count(*) as customers,
        sum(monetary) as monetary,
        sum(recency_days) as recency_days
    from rfm
    group by r_score, f_score, rfm_segment, as_of_date

),

ranked as (

    select
        *,
        row_number() over (
            partition by r_score, f_score
            order by customers desc, rfm_segment asc
        ) as segment_rank
    from cell_segments

),

cells as (

    select
        r_score,
        f_score,
        as_of_date,
        max(case when segment_rank = 1 then rfm_segment end) as main_segment,
        sum(customers) as customers,
        sum(monetary) as monetary,
        sum(recency_days) as recency_days
    from ranked
    group by r_score, f_score, as_of_date

),

final as (

    select
        {{ dbt.concat([
            'cast(r_score as ' ~ dbt.type_string() ~ ')',
            "'|'",
            'cast(f_score as ' ~ dbt.type_string() ~ ')'
        ]) }} as rfm_grid_cell_id,
        main_segment,
        r_score,
        f_score,
        customers,
        cast(monetary / customers as decimal(18, 2)) as average_monetary,
        {{ round_float('recency_days * 1.0 / customers', 1) }}
            as average_recency_days,
        as_of_date
    from cells

)

select * from final
