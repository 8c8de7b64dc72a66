-- One row per identifier with the person component it resolves to: exact components
-- joined by accepted fuzzy matches (int_identity_fuzzy_matches), transitively.

with

exact_components as (

    select * from {{ ref('int_identity_exact_components') }}

),

accepted_matches as (

    select distinct component_a, component_b
    from {{ ref('int_identity_fuzzy_matches') }}
    where decision like 'accepted%'

),

-- Nodes are exact components; each is listed as an edge to itself.
edges as (  -- noqa: ST03

    select exact_component_id as node_a, exact_component_id as node_b
    from exact_components

    union all

    select component_a as node_a, component_b as node_b
    from accepted_matches

),

-- The recursive CTE the macro emits on DuckDB (`using key`) is beyond the linter.
components as (

    {{ connected_components('edges', var('identity_resolution_rounds')) }}  -- noqa: PRS

),

exact_per_component as (

    select component_id, count(*) as exact_component_count
    from components
    group by component_id

),

final as (

    select
        exact_components.identifier_key,
        exact_components.id_type,
        exact_components.id_value,
        exact_components.exact_component_id,
        components.component_id,
        exact_per_component.exact_component_count > 1 as is_fuzzy_merged

    from exact_components
    inner join components
        on exact_components.exact_component_id = components.node_id
    inner join exact_per_component
        on components.component_id = exact_per_component.component_id

)

select * from final
