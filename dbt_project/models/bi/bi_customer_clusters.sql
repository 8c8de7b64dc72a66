{{ config(alias='customer_clusters', tags=['after_ml']) }}

-- One row per clustered buyer: the behavioural cluster the ML step gave them.

with

clusters as (

    select * from {{ ref('stg_ml__customer_clusters') }}

),

final as (

    select
        customer_id,
        cluster_name,
        cluster_model_version,
        cluster_id,
        cluster_distance

    from clusters

)

select * from final
