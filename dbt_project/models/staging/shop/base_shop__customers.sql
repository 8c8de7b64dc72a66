with

source as (

    {{ with_contact_checks(source('raw', 'customers')) }}

),

renamed as (

    select
        {{ clean_identifier('customer_id', 'customer_id') }} as shop_customer_id,
        {{ normalize_email('email') }} as email_as_delivered,
        {{ contact_check_columns() }},
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        {{ clean_text('phone') }} as phone,
        upper({{ clean_text('country') }}) as country,
        {{ clean_text('postal_code') }} as postal_code,
        {{ safe_boolean('accepts_marketing') }} as accepts_marketing,
        {{ clean_text('created_at') }} as created_at_text,
        {{ safe_timestamp(clean_text('created_at')) }} as created_at,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at

    from source

),

checked as (

    select
        *,
        {{ is_checked_email_usable() }} as is_email_valid,
        {{ email_problem('email_as_delivered') }} as email_problem,
        case
            when shop_customer_id is null then 'missing_customer_id'
            when created_at_text is not null and created_at is null
                then 'invalid_created_at'
            when {{ is_future('created_at') }} then 'future_created_at'
            when {{ is_before_business('created_at') }} then 'pre_business_created_at'
        end as row_reason

    from renamed

),

final as (

    select
        shop_customer_id,
        case when is_email_valid then checked_email end as email,
        first_name,
        last_name,
        phone,
        phone_e164,
        email_problem,
        case when is_email_valid then checked_suggested_email end as suggested_email,
        phone_problem,
        country,
        postal_code,
        accepts_marketing,
        is_email_valid,
        coalesce(email_problem = 'email_domain_typo', false) as has_email_domain_typo,
        created_at,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'shop_customer_id', 'row_reason', 'superseded_customer_row',
            keep='last'
        ) }} as quarantine_reason

    from checked

)

select * from final
