{#
    Incremental event models. Ingestion only ever appends: each landing file is loaded
    once, all its rows with one _loaded_at, later files with a later one. So a model
    built from those rows needs only the rows loaded after the newest it holds, and
    what it decided about an earlier row never changes. What needs --full-refresh:
    a change to a model's SQL, to the identity_blocklist seed or to a var that staging
    reads (default_currency, future_tolerance_days), and rows deleted from raw.
#}

{#
    The config of an event model that is appended to: the rows of files loaded since
    the last run. A changed column list stops the run (rebuild with --full-refresh)
    instead of silently mixing two versions of the model.
#}
{% macro append_only_config(materialized='incremental') -%}
    {{ config(
        materialized=materialized,
        incremental_strategy='append',
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#
    True for a row loaded after every row this model holds; always true on a full
    build. `loaded_at_column` is the load time of the row being selected.
#}
{% macro is_new_load(loaded_at_column) -%}
    {%- if is_incremental() -%}
        {{ loaded_at_column }} > (
            select coalesce(max(loaded_at), cast('1900-01-01' as timestamp))
            from {{ this }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
