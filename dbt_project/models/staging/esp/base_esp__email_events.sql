-- An incremental table: event sources are the largest, and both the staged model and
-- the quarantine read this one, so the typing and de-duplication run once, and each
-- run adds only the rows of files loaded since the last (see macros/incremental).
{{ append_only_config() }}

-- The CTEs are not materialized: dedupe_reason reads `checked` again for the rows
-- of keys delivered twice (see with_repeated_keys), and a materialized copy of
-- every typed row would spill.
with

source as not materialized (

    select * from {{ source('raw', 'email_events') }}
    where {{ is_new_load('_loaded_at') }}

),

delivered as not materialized (

    {{ with_repeated_keys('source', clean_text('event_id')) }}

),

renamed as not materialized (

    select
        {{ clean_text('event_id') }} as event_id,
        lower({{ clean_text('event_type') }}) as event_type,
        {{ normalize_email('email') }} as email,
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('message_id') }} as message_id,
        {{ clean_text('variant') }} as variant,
        {{ clean_text('link_url') }} as link_url,
        {{ clean_text('user_agent') }} as user_agent,
        coalesce({{ safe_boolean('is_machine_open') }}, false) as is_machine_open,
        {{ clean_text('occurred_at') }} as occurred_at_text,
        {{ safe_timestamp(clean_text('occurred_at')) }} as occurred_at,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at,
        is_repeat_key

    from delivered

),

checked as not materialized (

    select
        *,
        case
            when event_id is null then 'missing_event_id'
            when email is null then 'missing_email'
            when not {{ is_valid_email('email') }} then 'invalid_email'
            when occurred_at_text is null then 'missing_occurred_at'
            when occurred_at is null then 'invalid_occurred_at'
            when {{ is_future('occurred_at') }} then 'future_occurred_at'
            when {{ is_before_business('occurred_at') }} then 'pre_business_occurred_at'
            when event_type is null then 'missing_event_type'
            when event_type not in (
                'sent', 'delivered', 'open', 'click', 'bounce', 'unsubscribe',
                'spam_complaint'
            ) then 'unknown_event_type'
        end as row_reason

    from renamed

),

final as (

    select
        event_id,
        event_type,
        email,
        campaign_id,
        message_id,
        variant,
        link_url,
        user_agent,
        is_machine_open,
        occurred_at,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'event_id', 'row_reason', 'duplicate_event_id', rows='checked'
        ) }}
            as quarantine_reason

    from checked
    where not is_repeat_key

)

select * from final
