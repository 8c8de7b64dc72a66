-- One row per person: RFM values, scores and segment as of the run's as-of date
-- (scoring rules in int_customer_rfm_scored).

select * from {{ ref('int_customer_rfm_scored') }}
