{# Every non-null value is 64 lower-case hex digits: a SHA-256, not the value itself. #}
{% test is_sha256_hex(model, column_name) %}

select {{ column_name }} as value
from {{ model }}
where
    {{ column_name }} is not null
    and not {{ mailroom.regex_full_match(column_name, '[0-9a-f]{64}') }}

{% endtest %}
