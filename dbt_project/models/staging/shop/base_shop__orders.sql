-- An incremental table: orders only ever grow, so each run types and
-- checks only the rows of files loaded since the last (see macros/incremental).
{{ append_only_config() }}

-- The CTEs are not materialized: dedupe_reason reads `checked` again for the rows
-- of keys delivered twice (see with_repeated_keys), and a materialized copy of
-- every typed row would spill.
with

source as not materialized (

    select * from {{ source('raw', 'orders') }}
    where {{ is_new_load('_loaded_at') }}

),

delivered as not materialized (

    {{ with_repeated_keys('source', clean_text('order_id')) }}

),

renamed as not materialized (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_identifier('customer_id', 'customer_id') }} as shop_customer_id,
        {{ normalize_email('email') }} as email,
        upper(coalesce(
            {{ clean_text('currency') }}, '{{ var("default_currency") }}'
        )) as currency,
        lower(coalesce({{ clean_text('status') }}, 'placed')) as order_status,
        upper({{ clean_text('shipping_country') }}) as shipping_country,
        {{ clean_text('total_amount') }} as total_amount_text,
        {{ safe_decimal(clean_text('total_amount')) }} as total_amount,
        coalesce(
            {{ safe_decimal(clean_text('discount_amount')) }}, 0
        ) as discount_amount,
        {{ clean_text('ordered_at') }} as ordered_at_text,
        {{ safe_timestamp(clean_text('ordered_at')) }} as ordered_at,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at,
        is_repeat_key

    from delivered

),

checked as not materialized (

    select
        *,
        {{ is_valid_email('email') }} as is_email_valid,
        case
            when order_id is null then 'missing_order_id'
            when shop_customer_id is null and email is null then 'missing_customer_key'
            when shop_customer_id is null and not {{ is_valid_email('email') }}
                then 'invalid_email'
            when ordered_at_text is null then 'missing_ordered_at'
            when ordered_at is null then 'invalid_ordered_at'
            when {{ is_future('ordered_at') }} then 'future_ordered_at'
            when {{ is_before_business('ordered_at') }} then 'pre_business_ordered_at'
            when total_amount_text is null then 'missing_total_amount'
            when total_amount is null then 'invalid_total_amount'
            when order_status not in ('placed', 'cancelled', 'refunded')
                then 'invalid_status'
            when order_status = 'placed' and total_amount <= 0
                then 'non_positive_total_amount'
            when length(currency) != 3 then 'invalid_currency'
        end as row_reason

    from renamed

),

final as (

    select
        order_id,
        shop_customer_id,
        case when is_email_valid then email end as email,
        currency,
        order_status,
        shipping_country,
        total_amount,
        discount_amount,
        is_email_valid,
        ordered_at,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'order_id', 'row_reason', 'duplicate_order_id', rows='checked'
        ) }}
            as quarantine_reason

    from checked
    where not is_repeat_key

)

select * from final
