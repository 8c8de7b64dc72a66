{#
    True for an email event that is a machine open: an open the ESP flagged, or whose
    user agent matches one of machine_open_user_agent_patterns (privacy proxies and
    scanners prefetch images, so these opens say nothing about a person).
#}
{% macro is_machine_open(relation) -%}
    {{ relation }}.event_type = 'open' and (
        {{ relation }}.is_machine_open
        {%- for pattern in var('machine_open_user_agent_patterns') %}
            or lower(coalesce({{ relation }}.user_agent, ''))
            like '{{ pattern | lower }}'
        {%- endfor %}
    )
{%- endmacro %}
