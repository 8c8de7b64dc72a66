{#
    How the bi models show personal data: never in the clear. Each bi column built
    with one of these carries meta {pii: <class>, masking: <name>} and a data test of
    its form (tests/generic/is_sha256_hex.sql, is_masked.sql).
#}

{#
    masking sha256: the SHA-256 hex of the normalized (trimmed, lower-cased) address,
    the form ad platforms match customer lists on. It still singles a person out to
    anyone holding the address, so it stays personal data (pseudonymous).
#}
{% macro hash_email(column) -%}
    {{ mailroom.sha256_hex(mailroom.normalize_email(column)) }}
{%- endmacro %}

{# masking initial: the first letter of a name. #}
{% macro name_initial(column) -%}
    nullif(left(trim({{ column }}), 1), '')
{%- endmacro %}

{#
    masking last_two_digits: a phone number's digits as asterisks but the last two
    (+49 673792599 becomes *********99); null when it has no digit.
#}
{% macro mask_phone(column) -%}
    {%- set digits = "regexp_replace(" ~ column ~ ", '[^0-9]', '', 'g')" -%}
    case
        when length({{ digits }}) > 2
            then repeat('*', length({{ digits }}) - 2) || right({{ digits }}, 2)
        when length({{ digits }}) > 0
            then repeat('*', length({{ digits }}))
    end
{%- endmacro %}
