-- An incremental table: order lines only ever grow, so each run types and
-- checks only the rows of files loaded since the last (see macros/incremental).
{{ append_only_config() }}

{#- The raw form of order_item_id below, which copies of a line share (a line
    without a number is told apart by where it was delivered: it has no copies). -#}
{%- set order_line_key -%}
    {{ clean_text('order_id') }} || '-' || coalesce(
        cast({{ safe_integer(clean_text('line_number')) }} as {{ dbt.type_string() }}),
        ''
    )
{%- endset %}

-- The CTEs are not materialized: dedupe_reason reads `checked` again for the rows
-- of keys delivered twice (see with_repeated_keys), and a materialized copy of
-- every typed row would spill.
with

source as not materialized (

    select * from {{ source('raw', 'order_items') }}
    where {{ is_new_load('_loaded_at') }}

),

delivered as not materialized (

    {{ with_repeated_keys('source', order_line_key) }}

),

renamed as not materialized (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('product_id') }} as product_id,
        {{ safe_integer(clean_text('line_number')) }} as line_number,
        {{ clean_text('quantity') }} as quantity_text,
        {{ safe_integer(clean_text('quantity')) }} as quantity,
        {{ clean_text('unit_price') }} as unit_price_text,
        {{ safe_decimal(clean_text('unit_price')) }} as unit_price,
        coalesce(
            {{ safe_decimal(clean_text('discount_amount')) }}, 0
        ) as discount_amount,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at,
        is_repeat_key

    from delivered

),

checked as not materialized (

    select
        *,
        -- A line without a number is told apart by where it was delivered.
        {{ dbt.concat([
            'order_id', "'-'",
            "coalesce(cast(line_number as " ~ dbt.type_string() ~ "), "
            ~ "cast(file_row_number as " ~ dbt.type_string() ~ ") || '@' || file_name)"
        ]) }} as order_item_id,
        case
            when order_id is null then 'missing_order_id'
            when product_id is null then 'missing_product_id'
            when quantity_text is null then 'missing_quantity'
            when quantity is null then 'invalid_quantity'
            when unit_price_text is null then 'missing_unit_price'
            when unit_price is null then 'invalid_unit_price'
            when unit_price < 0 then 'negative_unit_price'
        end as row_reason

    from renamed

),

final as (

    select
        order_item_id,
        order_id,
        product_id,
        line_number,
        quantity,
        unit_price,
        discount_amount,
        quantity * unit_price - discount_amount as line_amount,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'order_item_id', 'row_reason', 'duplicate_order_item_id', rows='checked'
        ) }}
            as quarantine_reason

    from checked
    where not is_repeat_key

)

select * from final
