-- Pairs of person records from different exact components that may be one person,
-- scored field by field, with the decision taken on each. Pairs scoring at least
-- identity_fuzzy_review_threshold are kept so near misses can be reviewed, unless
-- their identifying fields disagree outright (namesakes: millions of them at scale).
--
-- Candidates come from blocking: two records are compared only when they agree on a
-- blocking key (blocks larger than identity_fuzzy_max_block_size are skipped: such
-- values identify nobody). Each field adds the points of its comparison level
-- (identity_fuzzy_weights); first and last name are also compared swapped.
-- A pair matches when its score reaches identity_fuzzy_threshold and the fields that
-- single out a person (birth date, postal code, street, phone, external id) add at
-- least identity_fuzzy_min_identifying_points: a name and a town, however rare, never
-- merge two people. Nor does a birth date or a postal code alone with the name:
-- among a million customers many namesakes share one, so a street, phone or
-- external id must agree, or birth date and postal code both.
--
-- Guards against chaining people together: a match below
-- identity_fuzzy_strong_threshold is accepted only when it is the best match of at
-- least one of its two components, and two components that each hold a shop account
-- are never merged by fuzzy evidence (one shop customer id per person).

{%- set weights = var('identity_fuzzy_weights') %}

with

records as (

    select * from {{ ref('int_identity_person_records') }}

),

blocking_keys as (

    {%- set initials = "least(left(first_name_key, 1), left(last_name_key, 1))"
        ~ " || greatest(left(first_name_key, 1), left(last_name_key, 1))" %}
    {%- set blocking_keys = {
        'birth_date_last_initial': "birth_date_key || left(last_name_key, 1)",
        'birth_date_first_initial': "birth_date_key || left(first_name_key, 1)",
        'birth_date_initials': "birth_date_key || " ~ initials,
        'birth_date_postal_code': "birth_date_key || '|' || postal_code_key",
        'names_either_order': "least(first_name_key, last_name_key) || '|' || greatest(first_name_key, last_name_key)",
        'last_name_postal_code': "left(last_name_key, 2) || '|' || postal_code_key",
        'first_name_postal_code': "left(first_name_key, 2) || '|' || postal_code_key",
        'last_name_birth_year': "left(last_name_key, 3) || '|' || left(birth_date_key, 4)",
        'first_name_birth_year': "left(first_name_key, 3) || '|' || left(birth_date_key, 4)",
        'street': "street_key",
        'street_postal_code': "street_key || '|' || coalesce(postal_code_key, city_key)",
        'external_id': "external_id",
        'external_id_head': "left(external_id, 4)",
    } %}
    {%- for block, expression in blocking_keys.items() %}
        select record_id, '{{ block }}' as block, {{ expression }} as block_value
        from records
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

block_sizes as (

    select block, block_value, count(*) as block_size
    from blocking_keys
    where block_value is not null
    group by block, block_value

),

usable_keys as (

    select blocking_keys.record_id, blocking_keys.block, blocking_keys.block_value
    from blocking_keys
    inner join block_sizes
        on
            blocking_keys.block = block_sizes.block
            and blocking_keys.block_value = block_sizes.block_value
    where block_sizes.block_size between 2 and {{ var('identity_fuzzy_max_block_size') }}

),

candidate_pairs as (

    select distinct
        a.record_id as record_a,
        b.record_id as record_b
    from usable_keys as a
    inner join usable_keys as b
        on
            a.block = b.block
            and a.block_value = b.block_value
            and a.record_id < b.record_id

),

compared as (

    select
        pairs.record_a,
        pairs.record_b,
        a.exact_component_id as component_a,
        b.exact_component_id as component_b,
        {{ compare_names('a.first_name_key', 'b.first_name_key') }} as first_name_level,
        {{ compare_names('a.last_name_key', 'b.last_name_key') }} as last_name_level,
        {{ compare_names('a.first_name_key', 'b.last_name_key') }} as first_last_level,
        {{ compare_names('a.last_name_key', 'b.first_name_key') }} as last_first_level,
        {{ compare_level(
            'a.birth_date_key', 'b.birth_date_key',
            edit_distance('a.birth_date_key', 'b.birth_date_key') ~ ' <= 1'
            ~ ' or ' ~ day_and_month_swapped('a.birth_date_key', 'b.birth_date_key')
        ) }} as birth_date_level,
        {{ compare_level(
            'a.postal_code_key', 'b.postal_code_key',
            edit_distance('a.postal_code_key', 'b.postal_code_key') ~ ' <= 1'
        ) }} as postal_code_level,
        {{ compare_level(
            'a.street_key', 'b.street_key',
            string_similarity('a.street_key', 'b.street_key')
            ~ ' >= ' ~ var('identity_fuzzy_address_similarity')
            ~ ' and a.house_number = b.house_number'
        ) }} as street_level,
        {{ compare_level(
            'a.city_key', 'b.city_key',
            string_similarity('a.city_key', 'b.city_key')
            ~ ' >= ' ~ var('identity_fuzzy_address_similarity')
        ) }} as city_level,
        {{ compare_level(
            'a.phone_key', 'b.phone_key',
            edit_distance('a.phone_key', 'b.phone_key') ~ ' <= 1'
        ) }} as phone_level,
        {{ compare_level(
            'a.external_id', 'b.external_id',
            edit_distance('a.external_id', 'b.external_id') ~ ' <= 2'
        ) }} as external_id_level

    from candidate_pairs as pairs
    inner join records as a
        on pairs.record_a = a.record_id
    inner join records as b
        on pairs.record_b = b.record_id
    where a.exact_component_id <> b.exact_component_id

),

weighted as (

    select
        *,
        {{ level_weight('first_name_level', weights.name) }}
        + {{ level_weight('last_name_level', weights.name) }} as name_points,
        {{ level_weight('first_last_level', weights.name) }}
        + {{ level_weight('last_first_level', weights.name) }} as swapped_name_points,
        -- A town is shared by many: it adds to the score but identifies nobody.
        {{ level_weight('city_level', weights.city) }} as place_points,
        {{ level_weight('birth_date_level', weights.birth_date) }}
        + {{ level_weight('postal_code_level', weights.postal_code) }}
        + {{ level_weight('street_level', weights.street) }}
        + {{ level_weight('phone_level', weights.phone) }}
        + {{ level_weight('external_id_level', weights.external_id) }}
            as identifying_points
    from compared

),

scored as (

    select
        record_a,
        record_b,
        component_a,
        component_b,
        swapped_name_points > name_points as names_swapped,
        case
            when swapped_name_points > name_points then first_last_level
            else first_name_level
        end as first_name_level,
        case
            when swapped_name_points > name_points then last_first_level
            else last_name_level
        end as last_name_level,
        birth_date_level,
        postal_code_level,
        street_level,
        city_level,
        phone_level,
        external_id_level,
        greatest(name_points, swapped_name_points) as name_points,
        place_points,
        identifying_points,
        greatest(name_points, swapped_name_points) + place_points + identifying_points
            as match_score,
        -- What singles out one person among namesakes: a street, phone or external
        -- id, or a birth date together with a postal code.
        {{ agrees('street_level') }}
        or {{ agrees('phone_level') }}
        or {{ agrees('external_id_level') }}
        or ({{ agrees('birth_date_level') }} and {{ agrees('postal_code_level') }})
            as has_singling_evidence
    from weighted

),

-- The best score between each pair of components (either order).
component_pairs as (

    select
        least(component_a, component_b) as component_a,
        greatest(component_a, component_b) as component_b,
        max(match_score) as match_score
    from scored
    where
        match_score >= {{ var('identity_fuzzy_threshold') }}
        and identifying_points >= {{ var('identity_fuzzy_min_identifying_points') }}
        and has_singling_evidence
    group by least(component_a, component_b), greatest(component_a, component_b)

),

best_per_component as (

    select component_id, max(match_score) as best_score
    from (
        select component_a as component_id, match_score from component_pairs
        union all
        select component_b as component_id, match_score from component_pairs
    ) as either_side
    group by component_id

),

shop_account_components as (

    select distinct exact_component_id
    from records
    where source_name = 'customers'

),

component_decisions as (

    select
        component_pairs.component_a,
        component_pairs.component_b,
        case
            when
                account_a.exact_component_id is not null
                and account_b.exact_component_id is not null
                then 'rejected_two_shop_accounts'
            when component_pairs.match_score >= {{ var('identity_fuzzy_strong_threshold') }}
                then 'accepted_strong'
            when
                component_pairs.match_score = best_a.best_score
                or component_pairs.match_score = best_b.best_score
                then 'accepted_best_match'
            else 'rejected_not_best_match'
        end as component_decision
    from component_pairs
    inner join best_per_component as best_a
        on component_pairs.component_a = best_a.component_id
    inner join best_per_component as best_b
        on component_pairs.component_b = best_b.component_id
    left join shop_account_components as account_a
        on component_pairs.component_a = account_a.exact_component_id
    left join shop_account_components as account_b
        on component_pairs.component_b = account_b.exact_component_id

),

final as (

    select
        scored.*,
        case
            when scored.match_score < {{ var('identity_fuzzy_threshold') }}
                then 'rejected_below_threshold'
            when
                scored.identifying_points
                < {{ var('identity_fuzzy_min_identifying_points') }}
                then 'rejected_name_only'
            when not scored.has_singling_evidence
                then 'rejected_weak_evidence'
            else component_decisions.component_decision
        end as decision
    from scored
    left join component_decisions
        on
            least(scored.component_a, scored.component_b) = component_decisions.component_a
            and greatest(scored.component_a, scored.component_b) = component_decisions.component_b
    where
        scored.match_score >= {{ var('identity_fuzzy_review_threshold') }}
        and scored.identifying_points >= 0

)

select * from final
