{# Text as delivered, trimmed; empty text is null. #}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{# Emails compare case-insensitively and without surrounding white space. #}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#
    A usable normalized (lower-case) email address: email-validator accepted it at
    load time (raw._email_checks, written by ingestion; see mailroom/validation.py)
    and it is not a placeholder on the identity blocklist. For models that do not
    join the lookup; those that do use checked_email().
#}
{% macro is_valid_email(column) -%}
    coalesce(
        {{ column }} in (
            select email_normalized from {{ source('raw', '_email_checks') }}
            where is_valid
        )
        and not {{ mailroom.is_blocklisted('email', column) }},
        false
    )
{%- endmacro %}

{#
    The rows of a raw source that holds email, phone and country, with the load-time
    verdicts on its email (raw._email_checks) and its (phone, country) pair
    (raw._phone_checks): see contact_check_columns(). Each lookup holds one row per delivered
    value, so the join keeps one row per raw row.
#}
{% macro with_contact_checks(relation) -%}
    select
        delivered.*,
        email_checks.email_normalized as checked_email,
        email_checks.is_valid as is_checked_email_valid,
        email_checks.problem as checked_email_problem,
        email_checks.suggested_email as checked_suggested_email,
        phone_checks.phone_e164,
        phone_checks.problem as phone_problem

    from {{ relation }} as delivered
    left join {{ source('raw', '_email_checks') }} as email_checks
        on delivered.email = email_checks.email_raw
    left join {{ source('raw', '_phone_checks') }} as phone_checks
        on delivered.phone = phone_checks.phone_raw
        and coalesce(delivered.country, '') = coalesce(phone_checks.country_raw, '')
{%- endmacro %}

{# The columns with_contact_checks() adds, for a staging model's select list. #}
{% macro contact_check_columns() -%}
    checked_email,
    is_checked_email_valid,
    checked_email_problem,
    checked_suggested_email,
    phone_e164,
    phone_problem
{%- endmacro %}

{# True when the checked email of with_contact_checks() may be used. #}
{% macro is_checked_email_usable() -%}
    coalesce(
        is_checked_email_valid
        and not {{ mailroom.is_blocklisted('email', 'checked_email') }},
        false
    )
{%- endmacro %}

{#
    Why a delivered email is not used, or is doubtful (null: used, no doubt):
    invalid_email, blocklisted_email, unchecked_email (no verdict: the raw row did
    not come through ingestion) or email_domain_typo (used, but flagged).
#}
{% macro email_problem(delivered_email) -%}
    case
        when {{ delivered_email }} is null then null
        when is_checked_email_valid is null then 'unchecked_email'
        when not is_checked_email_valid then 'invalid_email'
        when {{ mailroom.is_blocklisted('email', 'checked_email') }}
            then 'blocklisted_email'
        else checked_email_problem
    end
{%- endmacro %}

{# An identifier as delivered, trimmed; empty or blocklisted values are null. #}
{% macro clean_identifier(id_type, column) -%}
    case
        when not {{ mailroom.is_blocklisted(id_type, 'lower(trim(' ~ column ~ '))') }}
            then {{ mailroom.clean_text(column) }}
    end
{%- endmacro %}

{# True for a timestamp implausibly far after the moment its file was loaded. #}
{% macro is_future(timestamp_column, loaded_at_column='loaded_at') -%}
    {{ timestamp_column }} > {{ dbt.dateadd(
        'day', var('future_tolerance_days'), loaded_at_column
    ) }}
{%- endmacro %}

{# True for a timestamp before the business existed (var business_started_on). #}
{% macro is_before_business(timestamp_column) -%}
    {{ timestamp_column }} < cast('{{ var("business_started_on") }}' as timestamp)
{%- endmacro %}

{#
    True for an identifier value on the blocklist seed (placeholders such as `0`,
    `null` or test@test.com) that must never identify, let alone merge, a person.
#}
{#
    Seeds on adapters other than DuckDB are read by agate, which loads the text
    `null` as NULL: a NULL id_value is the placeholder `null`. (A NULL inside `in`
    would also make the test unknown for every value.)
#}
{% macro is_blocklisted(id_type, column) -%}
    {{ column }} in (
        select coalesce(id_value, 'null') from {{ ref('identity_blocklist') }}
        where id_type = '{{ id_type }}'
    )
{%- endmacro %}

{#
    A phone number as an identity key: its digits with a leading + when it had one;
    null when fewer than identity_min_phone_digits remain (extensions, placeholders)
    or when the digits are a placeholder on the identity blocklist (0000000000).
#}
{% macro phone_key(column) -%}
    {%- set digits = "regexp_replace(" ~ column ~ ", '[^0-9]', '', 'g')" -%}
    case
        when length({{ digits }}) >= {{ var('identity_min_phone_digits') }}
            and not {{ mailroom.is_blocklisted('phone', digits) }}
            then
                case when trim({{ column }}) like '+%' then '+' else '' end
                || {{ digits }}
    end
{%- endmacro %}

{#
    A phone number as an exact identity key: its E.164 form when the phonenumbers
    library accepted it at load time (raw._phone_checks, read with the record's
    country), so that "+49 170 1234567" and "0170 1234567" in Germany link; else
    its phone_key, for numbers the library could not place. Null whenever
    phone_key is (too few digits, a placeholder). Fuzzy matching compares
    phone_key: a typo that makes a number invalid keeps its digits one edit away.
#}
{% macro phone_identifier(phone, phone_e164) -%}
    case
        when {{ mailroom.phone_key(phone) }} is not null
            then coalesce({{ phone_e164 }}, {{ mailroom.phone_key(phone) }})
    end
{%- endmacro %}

{#
    The identity key a record is resolved by: its shop customer id when it has one,
    else its email (int_identity_components.identifier_key).
#}
{% macro identity_key(shop_customer_id, email) -%}
    case
        when {{ shop_customer_id }} is not null
            then 'customer_id:' || {{ shop_customer_id }}
        when {{ email }} is not null
            then 'email:' || {{ email }}
    end
{%- endmacro %}

{# A name as fuzzy matching compares it: lower case, without spaces, dots, hyphens or apostrophes. #}
{% macro name_key(column) -%}
    nullif(regexp_replace(lower({{ column }}), '[ .''-]', '', 'g'), '')
{%- endmacro %}
