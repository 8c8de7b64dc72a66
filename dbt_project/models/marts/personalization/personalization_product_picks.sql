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

-- Enough candidates per recipient to fill the picks after removing what they
-- bought: the top (products they bought + picks) of a popularity list hold at
-- least as many picks as the list can give them, and anything further down would
-- rank after those. Per recipient, not the shop's maximum: at 1,000,000
-- customers one heavy buyer's depth for everyone ran DuckDB out of memory.
candidate_depths as (

    select
        recipients.customer_id,
        coalesce(bought_counts.products, 0)
        + {{ var('product_picks_per_recipient') }} as depth
    from recipients
    left join (
        select customer_id, count(*) as products from bought
        group by customer_id
    ) as bought_counts
        on recipients.customer_id = bought_counts.customer_id

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
    inner join candidate_depths
        on recipients.customer_id = candidate_depths.customer_id
    inner join popularity
        on
            recipients.preferred_category = popularity.category
            and candidate_depths.depth >= popularity.category_rank

    union all

    select
        recipients.customer_id,
        popularity.product_id,
        2 as preference,
        popularity.overall_rank as popularity_rank
    from recipients
    inner join candidate_depths
        on recipients.customer_id = candidate_depths.customer_id
    inner join popularity
        on candidate_depths.depth >= popularity.overall_rank

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
