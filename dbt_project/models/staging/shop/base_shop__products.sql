with

source as (

    select * from {{ source('raw', 'products') }}

),

renamed as (

    select
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('name') }} as product_name,
        lower({{ clean_text('category') }}) as category,
        lower({{ clean_text('subcategory') }}) as subcategory,
        {{ clean_text('brand') }} as brand,
        upper(coalesce(
            {{ clean_text('currency') }}, '{{ var("default_currency") }}'
        )) as currency,
        {{ clean_text('url') }} as product_url,
        {{ clean_text('image_url') }} as image_url,
        {{ clean_text('price') }} as price_text,
        {{ safe_decimal(clean_text('price')) }} as price,
        coalesce({{ safe_boolean('is_active') }}, true) as is_active,
        coalesce({{ safe_boolean('in_stock') }}, true) as is_in_stock,
        _file_name as file_name,
        _row_number as file_row_number,
        _loaded_at as loaded_at

    from source

),

checked as (

    select
        *,
        case
            when product_id is null then 'missing_product_id'
            when price_text is not null and price is null then 'invalid_price'
            when price < 0 then 'negative_price'
        end as row_reason

    from renamed

),

final as (

    select
        product_id,
        product_name,
        category,
        subcategory,
        brand,
        currency,
        product_url,
        image_url,
        price,
        is_active,
        is_in_stock,
        file_name,
        file_row_number,
        loaded_at,
        {{ dedupe_reason(
            'product_id', 'row_reason', 'superseded_product_row', keep='last'
        ) }}
            as quarantine_reason

    from checked

)

select * from final
