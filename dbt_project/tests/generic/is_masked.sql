{#
    Every non-null value has the form of its masking (macros/privacy/masking.sql):
    initial, one character; last_two_digits, asterisks then at most two digits. A
    name or phone number in the clear fails.
#}
{% test is_masked(model, column_name, masking) %}

{%- set forms = {'initial': '.', 'last_two_digits': '[*]+[0-9]{0,2}'} -%}
{%- if masking not in forms -%}
    {{ exceptions.raise_compiler_error(
        'is_masked: masking must be one of ' ~ (forms.keys() | list) ~ ', not '
        ~ masking
    ) }}
{%- endif %}

select {{ column_name }} as value
from {{ model }}
where
    {{ column_name }} is not null
    and not {{ mailroom.regex_full_match(column_name, forms[masking]) }}

{% endtest %}
