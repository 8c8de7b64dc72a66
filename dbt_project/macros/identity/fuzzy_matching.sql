{#
    How two values of one field compare: 'exact', 'close' (when `close_condition`
    holds), 'different', or null when either side is missing (no evidence either way).
#}
{% macro compare_level(a, b, close_condition) -%}
    case
        when {{ a }} is null or {{ b }} is null then null
        when {{ a }} = {{ b }} then 'exact'
        when {{ close_condition }} then 'close'
        else 'different'
    end
{%- endmacro %}

{#
    The weight of a comparison level: `weights` maps exact, close and different to
    points (the identity_fuzzy_weights var); a missing value weighs nothing.
#}
{% macro level_weight(level, weights) -%}
    case {{ level }}
        when 'exact' then {{ weights.exact }}
        when 'close' then {{ weights.close }}
        when 'different' then {{ weights.different }}
        else 0
    end
{%- endmacro %}

{# Two names compared: equal, or similar enough to be a typo of each other. #}
{% macro compare_names(a, b) -%}
    {{ mailroom.compare_level(
        a, b,
        mailroom.string_similarity(a, b) ~ ' >= ' ~ var('identity_fuzzy_name_similarity')
    ) }}
{%- endmacro %}

{# Two birth dates (digits, YYYYMMDD) equal but for day and month swapped. #}
{% macro day_and_month_swapped(a, b) -%}
    (left({{ a }}, 4) = left({{ b }}, 4)
        and substr({{ a }}, 5, 2) = substr({{ b }}, 7, 2)
        and substr({{ a }}, 7, 2) = substr({{ b }}, 5, 2))
{%- endmacro %}

{# True when a comparison level is exact or close. #}
{% macro agrees(level) -%}
    coalesce({{ level }} in ('exact', 'close'), false)
{%- endmacro %}
