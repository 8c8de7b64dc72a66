-- One row per person with a usable email address: the address to send to (the one
-- seen most recently), its consent state, the person's latest word on consent across
-- all their addresses, and whether they may be sent marketing email at all: only a
-- usable address whose latest consent word is an opt-in, with no bounce or
-- complaint on it, of a person whose latest word anywhere is an opt-in.

with

identifiers as (

    select * from {{ ref('int_identity_components') }}

),

record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

consent_state as (

    select * from {{ ref('int_email_consent_state') }}

),

-- Survivorship: the email seen most recently wins.
emails_ranked as (

    select
        identifiers.customer_id,
        record_identifiers.id_value as email,
        row_number() over (
            partition by identifiers.customer_id
            order by
                record_identifiers.last_seen_at desc nulls last,
                record_identifiers.id_value asc
        ) as email_rank
    from record_identifiers
    inner join identifiers
        on record_identifiers.identifier_key = identifiers.identifier_key
    where record_identifiers.id_type = 'email'

),

best_email as (

    select customer_id, email from emails_ranked
    where email_rank = 1

),

-- The person's most recent word on consent across all their addresses; an opt-out
-- on an old address still counts if it is the latest thing they said.
person_consent_ranked as (

    select
        emails_ranked.customer_id,
        consent_state.consent_status,
        row_number() over (
            partition by emails_ranked.customer_id
            order by
                consent_state.consent_changed_at desc,
                case when consent_state.consent_status = 'opted_out' then 0 else 1 end
        ) as consent_rank
    from emails_ranked
    inner join consent_state
        on emails_ranked.email = consent_state.email
    where consent_state.consent_status != 'unknown'

),

person_consent as (

    select customer_id, consent_status
    from person_consent_ranked
    where consent_rank = 1

),

final as (

    select
        best_email.customer_id,
        best_email.email,
        coalesce(consent_state.consent_status, 'unknown') as email_consent_status,
        coalesce(person_consent.consent_status, 'unknown') as person_consent_status,
        coalesce(consent_state.is_suppressed, false) as is_email_suppressed,
        coalesce(
            consent_state.consent_status = 'opted_in'
            and not consent_state.is_suppressed
            and person_consent.consent_status = 'opted_in',
            false
        ) as is_email_sendable,
        consent_state.consent_changed_at

    from best_email
    left join consent_state
        on best_email.email = consent_state.email
    left join person_consent
        on best_email.customer_id = person_consent.customer_id

)

select * from final
