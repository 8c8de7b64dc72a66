{#
    Connected components of an undirected graph, in plain SQL that any adapter runs.

    `edges` is a relation (or CTE name) with columns node_a and node_b; list a lone
    node as an edge to itself. Returns a select of (node_id, component_id), where
    component_id is the smallest node id of the node's component.

    Each round takes the smallest label among a node's neighbours (label propagation)
    and then follows labels to their own labels (pointer jumping), so a chain of
    length L converges in about log2(L) rounds. Only nodes with an edge to another
    node take part (the rest are their own component), under dense integer numbers
    rather than their ids: about half the time on DuckDB for string ids, and far
    less where most nodes stand alone (exact components joined by a few fuzzy
    matches). The numbers keep the ids' order, so the result is the same. The test
    `assert_identity_components_converged` fails if `rounds` was not enough.
#}
{% macro connected_components(edges, rounds) -%}
    with

    distinct_edges as (

        select distinct node_a, node_b from {{ edges }}
        where node_a <> node_b

    ),

    node_ids as (

        select node_a as node_id from {{ edges }}
        union
        select node_b as node_id from {{ edges }}

    ),

    -- Only nodes with an edge to another node take part in the rounds, numbered in
    -- the order of their ids: rounds join and group on integers, and the smallest
    -- number is the smallest id.
    linked_nodes as (

        select node_id, dense_rank() over (order by node_id) as node_number
        from (
            select node_a as node_id from distinct_edges
            union
            select node_b as node_id from distinct_edges
        ) as linked

    ),

    numbered_edges as (

        select
            nodes_a.node_number as number_a,
            nodes_b.node_number as number_b
        from distinct_edges
        inner join linked_nodes as nodes_a
            on distinct_edges.node_a = nodes_a.node_id
        inner join linked_nodes as nodes_b
            on distinct_edges.node_b = nodes_b.node_id

    ),

    -- Both directions of every edge, and every node as its own neighbour.
    undirected as (

        select number_a as node_number, number_b as neighbour_number
        from numbered_edges
        union all
        select number_b as node_number, number_a as neighbour_number
        from numbered_edges
        union all
        select node_number, node_number as neighbour_number from linked_nodes

    ),

    labels_0 as (

        select node_number, min(neighbour_number) as label
        from undirected
        group by node_number

    ),

    {% for round in range(1, rounds + 1) %}
    propagated_{{ round }} as (

        select
            undirected.node_number,
            min(labels.label) as label
        from undirected
        inner join labels_{{ round - 1 }} as labels
            on undirected.neighbour_number = labels.node_number
        group by undirected.node_number

    ),

    labels_{{ round }} as (

        select
            propagated.node_number,
            least(propagated.label, jumped.label) as label
        from propagated_{{ round }} as propagated
        inner join propagated_{{ round }} as jumped
            on propagated.label = jumped.node_number

    ),

    {% endfor %}
    linked_components as (

        select
            nodes.node_id,
            component_nodes.node_id as component_id
        from labels_{{ rounds }} as labels
        inner join linked_nodes as nodes
            on labels.node_number = nodes.node_number
        inner join linked_nodes as component_nodes
            on labels.label = component_nodes.node_number

    ),

    -- A node without edges to others is a component of its own.
    components as (

        select node_id, component_id from linked_components
        union all
        select node_ids.node_id, node_ids.node_id as component_id
        from node_ids
        left join linked_nodes
            on node_ids.node_id = linked_nodes.node_id
        where linked_nodes.node_id is null

    )

    select * from components
{%- endmacro %}
