-- One row per sendable recipient per product pick (at most
-- product_picks_per_recipient): the ML recommendations first (co-purchase rules,
-- viewed but not bought), then the most popular sellable products of the person's
-- preferred category, then of the whole shop; never one they already bought, never
-- one that is inactive or out of stock.

with

recipients as (

    select customer_id, preferred_category from {{ ref('personalization') }}

),

popularity as (

    select * from {{ ref('int_product_popularity') }}

),

recommendations as (

    select * from {{ ref('stg_ml__product_recommendations') }}

),

bought as (

    select customer_id, product_id from {{ ref('int_customer_products_bought') }}

),

-- Enough candidates per recipient to fill the picks after removing what they bought.
candidate_depth as (

    select max(lifetime_products) + {{ var('product_picks_per_recipient') }} as depth
    from (
        select count(*) as lifetime_products from bought
        group by customer_id
    ) as per_customer

),

candidates as (

    select
        recipients.customer_id,
        recommendations.product_id,
        0 as preference,
        recommendations.recommendation_rank as popularity_rank
    from recipients
    inner join recommendations
        on recipients.customer_id = recommendations.customer_id

    union all

    select
        recipients.customer_id,
        popularity.product_id,
        1 as preference,
        popularity.category_rank as popularity_rank
    from recipients
    inner join popularity
        on recipients.preferred_category = popularity.category
    cross join candidate_depth
    where popularity.category_rank <= candidate_depth.depth

    union all

    select
        recipients.customer_id,
        popularity.product_id,
        2 as preference,
        popularity.overall_rank as popularity_rank
    from recipients
    cross join popularity
    cross join candidate_depth
    where popularity.overall_rank <= candidate_depth.depth

),

not_bought as (

    select candidates.*
    from candidates
    left join bought
        on
            candidates.customer_id = bought.customer_id
            and candidates.product_id = bought.product_id
    where bought.product_id is null

),

ranked as (

    select
        customer_id,
        product_id,
        preference,
        row_number() over (
            partition by customer_id
            order by preference, popularity_rank, product_id
        ) as pick_rank
    from (
        select
            customer_id,
            product_id,
            min(preference) as preference,
            min(popularity_rank) as popularity_rank
        from not_bought
        group by customer_id, product_id
    ) as deduplicated

),

final as (

    select
        {{ dbt.concat([
            'ranked.customer_id', "':'", 'cast(ranked.pick_rank as ' ~ dbt.type_string() ~ ')'
        ]) }} as product_pick_id,
        ranked.customer_id,
        ranked.product_id,
        popularity.product_name,
        popularity.category,
        popularity.currency,
        popularity.product_url,
        popularity.image_url,
        case
            when ranked.preference = 0 then recommendations.recommendation_reason
            when ranked.preference = 1 then 'popular in preferred category'
            else 'popular in the shop'
        end as pick_reason,
        ranked.pick_rank,
        popularity.price

    from ranked
    inner join popularity
        on ranked.product_id = popularity.product_id
    left join recommendations
        on
            ranked.customer_id = recommendations.customer_id
            and ranked.product_id = recommendations.product_id
    where ranked.pick_rank <= {{ var('product_picks_per_recipient') }}

)

select * from final
