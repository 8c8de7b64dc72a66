with

source as (

    select * from {{ source('raw', 'campaigns') }}

),

renamed as (

    select
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('name') }} as campaign_name,
        {{ clean_text('subject') }} as subject,
        lower(coalesce({{ clean_text('channel') }}, 'email')) as channel,
        {{ clean_text('sent_at') }} as sent_at_text,
        {{ safe_timestamp(clean_text('sent_at')) }} as sent_at,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at

    from source

),

checked as (

    select
        *,
        case
            when campaign_id is null then 'missing_campaign_id'
            when sent_at_text is not null and sent_at is null then 'invalid_sent_at'
            when {{ is_before_business('sent_at') }} then 'pre_business_sent_at'
        end as row_reason

    from renamed

),

final as (

    select
        campaign_id,
        campaign_name,
        subject,
        channel,
        sent_at,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'campaign_id', 'row_reason', 'superseded_campaign_row', keep='last'
        ) }} as quarantine_reason

    from checked

)

select * from final
