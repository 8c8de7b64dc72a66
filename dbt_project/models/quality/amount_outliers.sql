-- Amounts far from the usual ones of their currency, by a robust statistic: the
-- modified z-score 0.6745 * (x - median) / MAD (Iglewicz and Hoaglin), on the log
-- of the amount because order totals and prices are right-skewed. A median and MAD
-- are not dragged by the outliers they look for, as a mean and standard deviation
-- are. Flagged for review, not quarantined: a 40-item order can be real.
with

amounts as (

    select
        'orders' as source_name,
        'total_amount' as amount_column,
        file_name,
        file_row_number,
        order_id as record_key,
        currency,
        total_amount as amount
    from {{ ref('stg_shop__orders') }}
    where total_amount > 0

    union all

    select
        'order_items' as source_name,
        'unit_price' as amount_column,
        file_name,
        file_row_number,
        order_item_id as record_key,
        cast(null as {{ dbt.type_string() }}) as currency,
        unit_price as amount
    from {{ ref('stg_shop__order_items') }}
    where unit_price > 0

    union all

    select
        'products' as source_name,
        'price' as amount_column,
        file_name,
        file_row_number,
        product_id as record_key,
        currency,
        price as amount
    from {{ ref('stg_shop__products') }}
    where price > 0

),

logged as (

    select
        *,
        ln(cast(amount as {{ dbt.type_float() }})) as log_amount
    from amounts

),

medians as (

    select
        source_name,
        currency,
        percentile_cont(0.5) within group (order by log_amount) as median_log_amount
    from logged
    group by source_name, currency

),

deviations as (

    select
        logged.*,
        medians.median_log_amount,
        abs(logged.log_amount - medians.median_log_amount) as absolute_deviation
    from logged
    inner join medians
        on
            logged.source_name = medians.source_name
            and coalesce(logged.currency, '') = coalesce(medians.currency, '')

),

spreads as (

    select
        source_name,
        currency,
        percentile_cont(0.5) within group (
            order by absolute_deviation
        ) as median_absolute_deviation
    from deviations
    group by source_name, currency

),

scored as (

    select
        deviations.source_name,
        deviations.amount_column,
        deviations.file_name,
        deviations.file_row_number,
        deviations.record_key,
        deviations.currency,
        deviations.amount,
        exp(deviations.median_log_amount) as median_amount,
        0.6745 * (deviations.log_amount - deviations.median_log_amount)
        / nullif(spreads.median_absolute_deviation, 0) as robust_z
    from deviations
    inner join spreads
        on
            deviations.source_name = spreads.source_name
            and coalesce(deviations.currency, '') = coalesce(spreads.currency, '')

),

flagged as (

    select
        source_name,
        amount_column,
        file_name,
        file_row_number,
        record_key,
        currency,
        case
            when robust_z > 0 then 'high_' || amount_column
            else 'low_' || amount_column
        end as outlier_reason,
        amount,
        median_amount,
        robust_z
    from scored
    where abs(robust_z) > {{ var('amount_outlier_max_robust_z') }}

)

select * from flagged
