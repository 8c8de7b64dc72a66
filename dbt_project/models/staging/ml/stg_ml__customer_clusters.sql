with

source as (

    select * from {{ source('ml', 'customer_clusters') }}

),

renamed as (

    select
        customer_id,
        cluster_id,
        cluster_name,
        distance as cluster_distance,
        model_version as cluster_model_version
    from source

)

select * from renamed
