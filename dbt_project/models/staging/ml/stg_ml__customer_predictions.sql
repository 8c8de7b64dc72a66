with

source as (

    select * from {{ source('ml', 'customer_predictions') }}

),

renamed as (

    select
        customer_id,
        churn_band,
        preferred_category as predicted_preferred_category,
        prediction_source,
        prediction_reason,
        model_version as prediction_model_version,
        horizon_days as prediction_horizon_days,
        purchase_probability,
        expected_orders,
        churn_probability,
        predicted_clv,
        expected_next_order_date,
        as_of_date as predicted_as_of_date
    from source

)

select * from renamed
