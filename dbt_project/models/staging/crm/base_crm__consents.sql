with

source as (

    select * from {{ source('raw', 'consents') }}

),

renamed as (

    select
        {{ normalize_email('email') }} as email,
        {{ clean_identifier('contact_id', 'contact_id') }} as contact_id,
        lower({{ clean_text('channel') }}) as channel,
        lower({{ clean_text('status') }}) as consent_status,
        lower({{ clean_text('purpose') }}) as purpose,
        lower({{ clean_text('source') }}) as consent_source,
        {{ clean_text('captured_at') }} as captured_at_text,
        {{ safe_timestamp(clean_text('captured_at')) }} as captured_at,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at

    from source

),

checked as (

    select
        *,
        case
            when email is null and contact_id is null then 'missing_subject'
            when email is not null and not {{ is_valid_email('email') }}
                then 'invalid_email'
            when channel is null then 'missing_channel'
            when consent_status is null then 'missing_status'
            when consent_status not in ('opted_in', 'opted_out') then 'invalid_status'
            when captured_at_text is null then 'missing_captured_at'
            when captured_at is null then 'invalid_captured_at'
            when {{ is_future('captured_at') }} then 'future_captured_at'
            when {{ is_before_business('captured_at') }} then 'pre_business_captured_at'
        end as quarantine_reason

    from renamed

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "coalesce(email, '')", "'|'", "coalesce(contact_id, '')", "'|'",
            'channel', "'|'", 'consent_status', "'|'",
            'cast(captured_at as ' ~ dbt.type_string() ~ ')', "'|'",
            'file_name', "'|'", 'cast(file_row_number as ' ~ dbt.type_string() ~ ')'
        ])) }} as consent_event_id,
        email,
        contact_id,
        channel,
        consent_status,
        purpose,
        consent_source,
        captured_at,
        file_name,
        file_row_number,
        loaded_at,
        quarantine_reason

    from checked

)

select * from final
