-- An incremental table: event sources are the largest, and both the staged model and
-- the quarantine read this one, so the typing and de-duplication run once, and each
-- run adds only the rows of files loaded since the last (see macros/incremental).
{{ append_only_config() }}

-- The CTEs are not materialized: dedupe_reason reads `checked` again for the rows
-- of keys delivered twice (see with_repeated_keys), and a materialized copy of
-- every typed row would spill.
with

source as not materialized (

    select * from {{ source('raw', 'web_events') }}
    where {{ is_new_load('_loaded_at') }}

),

delivered as not materialized (

    {{ with_repeated_keys('source', clean_text('event_id')) }}

),

renamed as not materialized (

    select
        {{ clean_text('event_id') }} as event_id,
        lower({{ clean_text('event_type') }}) as event_type,
        {{ clean_text('anonymous_id') }} as anonymous_id,
        {{ clean_identifier('customer_id', 'customer_id') }} as shop_customer_id,
        {{ normalize_email('email') }} as email,
        {{ clean_text('device_id') }} as device_id,
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('page_url') }} as page_url,
        {{ clean_text('referrer') }} as referrer,
        {{ clean_text('search_query') }} as search_query,
        lower({{ clean_text('utm_source') }}) as utm_source,
        lower({{ clean_text('utm_medium') }}) as utm_medium,
        lower({{ clean_text('utm_campaign') }}) as utm_campaign,
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
            when occurred_at_text is null then 'missing_occurred_at'
            when occurred_at is null then 'invalid_occurred_at'
            when {{ is_future('occurred_at') }} then 'future_occurred_at'
            when {{ is_before_business('occurred_at') }} then 'pre_business_occurred_at'
            when event_type is null then 'missing_event_type'
            when event_type not in (
                'page_view', 'product_view', 'add_to_cart', 'remove_from_cart',
                'checkout_started', 'search', 'identify'
            ) then 'unknown_event_type'
            when coalesce(anonymous_id, shop_customer_id, email, device_id) is null
                then 'missing_actor'
        end as row_reason

    from renamed

),

final as (

    select
        event_id,
        event_type,
        anonymous_id,
        shop_customer_id,
        case when {{ is_valid_email('email') }} then email end as email,
        device_id,
        product_id,
        page_url,
        referrer,
        search_query,
        utm_source,
        utm_medium,
        utm_campaign,
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
