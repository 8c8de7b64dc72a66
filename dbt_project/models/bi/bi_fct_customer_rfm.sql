{{ config(alias='fct_customer_rfm') }}

-- One row per person, as marts.fct_customer_rfm (it holds no personal data).

with

rfm as (

    select * from {{ ref('fct_customer_rfm') }}

),

final as (

    select
        customer_id,
        rfm_segment,
        rfm_grid,
        buyer_type,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        rfm_cell,
        as_of_date,
        last_order_at

    from rfm

)

select * from final
