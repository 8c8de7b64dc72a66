{#
    The customer id each identifier holds now: its latest row in `history` (the
    int_identity_customer_id_history model, or `this` inside it).
#}
{% macro latest_customer_ids(history) -%}
    select identifier_key, customer_id
    from (
        select
            identifier_key,
            customer_id,
            row_number() over (
                partition by identifier_key order by version desc
            ) as recency
        from {{ history }}
    ) as history
    where recency = 1
{%- endmacro %}
