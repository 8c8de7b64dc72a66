{# Text as delivered, trimmed; empty text is null. #}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{# Emails compare case-insensitively and without surrounding white space. #}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#
    A usable normalized (lower-case) email address: passes a syntax screen (one @, a
    local part of the usual characters, a dotted domain ending in a 2+ letter
    top-level domain) and is not a placeholder on the identity blocklist.
#}
{% macro is_valid_email(column) -%}
    coalesce(
        {{ mailroom.regex_full_match(
            column,
            "[a-z0-9._%+''-]+@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}"
        ) }}
        and not {{ mailroom.is_blocklisted('email', column) }},
        false
    )
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
