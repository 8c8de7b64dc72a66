{#
    Connected components of an undirected graph, in plain SQL that any adapter runs.

    `edges` is a relation (or CTE name) with columns node_a and node_b; list a lone
    node as an edge to itself. Returns a select of (node_id, component_id), where
    component_id is the smallest node id of the node's component.

    Each round takes the smallest label among a node's neighbours (label propagation)
    and then follows labels to their own labels (pointer jumping), so a chain of
    length L converges in about log2(L) rounds. The test
    `assert_identity_components_converged` fails if `rounds` was not enough.
#}
{% macro connected_components(edges, rounds) -%}
    with

    distinct_edges as (

        select distinct node_a, node_b from {{ edges }}
        where node_a <> node_b

    ),

    nodes as (

        select node_a as node_id from {{ edges }}
        union
        select node_b as node_id from {{ edges }}

    ),

    -- Both directions of every edge, and every node as its own neighbour.
    undirected as (

        select node_a as node_id, node_b as neighbour_id from distinct_edges
        union all
        select node_b as node_id, node_a as neighbour_id from distinct_edges
        union all
        select node_id, node_id as neighbour_id from nodes

    ),

    labels_0 as (

        select node_id, min(neighbour_id) as component_id
        from undirected
        group by node_id

    ),

    {% for round in range(1, rounds + 1) %}
    propagated_{{ round }} as (

        select
            undirected.node_id,
            min(labels.component_id) as component_id
        from undirected
        inner join labels_{{ round - 1 }} as labels
            on undirected.neighbour_id = labels.node_id
        group by undirected.node_id

    ),

    labels_{{ round }} as (

        select
            propagated.node_id,
            least(propagated.component_id, jumped.component_id) as component_id
        from propagated_{{ round }} as propagated
        inner join propagated_{{ round }} as jumped
            on propagated.component_id = jumped.node_id

    ),

    {% endfor %}
    components as (

        select node_id, component_id from labels_{{ rounds }}

    )

    select * from components
{%- endmacro %}
