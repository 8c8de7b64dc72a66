{#
    Whole days elapsed from one timestamp to another (floor of the elapsed time, as
    pandas' Timedelta.days counts them): 2011-12-09 12:50 to 2011-12-11 00:00 is 1.
#}
{% macro days_between(start_timestamp, end_timestamp) -%}
    {{ return(adapter.dispatch('days_between', 'mailroom')(start_timestamp, end_timestamp)) }}
{%- endmacro %}

{% macro default__days_between(start_timestamp, end_timestamp) -%}
    cast(floor(
        extract(epoch from ({{ end_timestamp }} - {{ start_timestamp }})) / 86400
    ) as {{ dbt.type_int() }})
{%- endmacro %}
