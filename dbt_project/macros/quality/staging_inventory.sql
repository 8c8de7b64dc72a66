{#
    Every landing source with its base model (all rows, with a quarantine reason),
    its staged model (valid rows) and the column that identifies a row to a person
    reading the quarantine. One list, used by the quarantine and reconciliation models
    and their tests.
#}
{% macro staging_inventory() -%}
    {{ return([
        {'source': 'orders', 'base': 'base_shop__orders', 'staged': 'stg_shop__orders', 'key': 'order_id'},
        {'source': 'order_items', 'base': 'base_shop__order_items', 'staged': 'stg_shop__order_items', 'key': 'order_item_id'},
        {'source': 'products', 'base': 'base_shop__products', 'staged': 'stg_shop__products', 'key': 'product_id'},
        {'source': 'customers', 'base': 'base_shop__customers', 'staged': 'stg_shop__customers', 'key': 'shop_customer_id'},
        {'source': 'crm_contacts', 'base': 'base_crm__contacts', 'staged': 'stg_crm__contacts', 'key': 'contact_id'},
        {'source': 'consents', 'base': 'base_crm__consents', 'staged': 'stg_crm__consents', 'key': 'consent_event_id'},
        {'source': 'web_events', 'base': 'base_web__events', 'staged': 'stg_web__events', 'key': 'event_id'},
        {'source': 'email_events', 'base': 'base_esp__email_events', 'staged': 'stg_esp__email_events', 'key': 'event_id'},
        {'source': 'campaigns', 'base': 'base_esp__campaigns', 'staged': 'stg_esp__campaigns', 'key': 'campaign_id'},
    ]) }}
{%- endmacro %}
