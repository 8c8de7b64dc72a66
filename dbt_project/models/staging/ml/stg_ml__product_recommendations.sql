with

source as (

    select * from {{ source('ml', 'product_recommendations') }}

),

renamed as (

    select
        customer_id,
        product_id,
        source as recommendation_source,
        reason as recommendation_reason,
        recommendation_rank,
        score as recommendation_score
    from source

)

select * from renamed
