-- One row per email address with consent evidence: its latest opt-in or opt-out
-- (an opt-out wins a tie) and whether it is suppressed for good (a bounce or a
-- spam complaint). No row means no consent on record: never send.

with

consent_events as (

    select * from {{ ref('int_email_consent_events') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by email
            order by
                occurred_at desc,
                case when consent_status = 'opted_out' then 0 else 1 end
        ) as recency_rank
    from consent_events
    where consent_status in ('opted_in', 'opted_out')

),

latest as (

    select
        email,
        consent_status,
        evidence as consent_evidence,
        occurred_at as consent_changed_at
    from ranked
    where recency_rank = 1

),

suppressions as (

    select
        email,
        min(occurred_at) as suppressed_at,
        min(evidence) as suppression_evidence
    from consent_events
    where consent_status = 'suppressed'
    group by email

),

addresses as (

    select distinct email from consent_events

),

final as (

    select
        addresses.email,
        coalesce(latest.consent_status, 'unknown') as consent_status,
        latest.consent_evidence,
        suppressions.suppression_evidence,
        suppressions.email is not null as is_suppressed,
        latest.consent_changed_at,
        suppressions.suppressed_at

    from addresses
    left join latest
        on addresses.email = latest.email
    left join suppressions
        on addresses.email = suppressions.email

)

select * from final
