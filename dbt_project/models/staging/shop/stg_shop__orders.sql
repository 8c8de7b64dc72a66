-- A view on DuckDB; on PostgreSQL a table that each run appends new rows to.
{{ append_only_config(
    'incremental' if target.type == 'postgres' else 'view'
) }}

{{ staged_rows('base_shop__orders') }}
