with

source as (

    {{ with_contact_checks(source('raw', 'crm_contacts')) }}

),

renamed as (

    select
        {{ clean_identifier('contact_id', 'contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email_as_delivered,
        {{ contact_check_columns() }},
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        {{ clean_text('phone') }} as phone,
        lower({{ clean_text('gender') }}) as gender,
        {{ clean_text('street') }} as street,
        {{ clean_text('city') }} as city,
        {{ clean_text('postal_code') }} as postal_code,
        upper({{ clean_text('country') }}) as country,
        lower({{ clean_text('loyalty_tier') }}) as loyalty_tier,
        {{ clean_text('external_id') }} as external_id,
        {{ clean_text('birth_date') }} as birth_date_text,
        {{ safe_date(clean_text('birth_date')) }} as birth_date,
        {{ clean_text('created_at') }} as created_at_text,
        {{ safe_timestamp(clean_text('created_at')) }} as created_at,
        {{ safe_timestamp(clean_text('updated_at')) }} as updated_at,
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
            when contact_id is null then 'missing_contact_id'
            when created_at_text is not null and created_at is null
                then 'invalid_created_at'
            when {{ is_future('created_at') }} then 'future_created_at'
            when {{ is_before_business('created_at') }} then 'pre_business_created_at'
        end as row_reason

    from renamed

),

final as (

    select
        contact_id,
        case when is_email_valid then checked_email end as email,
        first_name,
        last_name,
        phone,
        phone_e164,
        email_problem,
        case when is_email_valid then checked_suggested_email end as suggested_email,
        phone_problem,
        gender,
        street,
        city,
        postal_code,
        country,
        loyalty_tier,
        is_email_valid,
        coalesce(email_problem = 'email_domain_typo', false) as has_email_domain_typo,
        external_id,
        birth_date,
        -- The digits of the birth date as delivered: compared by edit distance in
        -- identity resolution, so a typo or an impossible date still counts.
        nullif(regexp_replace(birth_date_text, '[^0-9]', '', 'g'), '') as birth_date_key,
        created_at,
        updated_at,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'contact_id', 'row_reason', 'superseded_contact_row', keep='last'
        ) }} as quarantine_reason

    from checked

)

select * from final
