-- One row per person per active segment as of the run's as-of date: the rule and
-- values that put them there (reason), when the qualifying event happened
-- (qualified_at), since which recorded run they have been in it without a break
-- (member_since), and the segment of the same type they held before (previous_segment).

select
    customer_segment_id,
    customer_id,
    segment_type,
    segment,
    previous_segment,
    reason,
    as_of_date,
    member_since,
    qualified_at
from {{ ref('fct_customer_segment_history') }}
where as_of_date = cast('{{ as_of_date() }}' as date)
