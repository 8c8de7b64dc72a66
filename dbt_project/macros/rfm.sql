{# The number of scores of the configured RFM grid (the rfm_grid var). #}
{% macro rfm_bins() -%}
    {%- set grids = var('rfm_grid_bins') -%}
    {%- if var('rfm_grid') not in grids -%}
        {{ exceptions.raise_compiler_error(
            "rfm_grid '" ~ var('rfm_grid') ~ "' has no entry in rfm_grid_bins "
            ~ "(known: " ~ (grids.keys() | list | join(', ')) ~ ")"
        ) }}
    {%- endif -%}
    {{ return(grids[var('rfm_grid')] | int) }}
{%- endmacro %}

{#
    Cut points of `column` at the 1/bins ... (bins-1)/bins quantiles (linear
    interpolation, as pandas.qcut), named <prefix>_cut_1 ... <prefix>_cut_<bins-1>.
#}
{% macro rfm_cut_points(column, prefix, bins) -%}
    {%- for cut in range(1, bins) %}
    percentile_cont({{ cut / bins }}) within group (order by {{ column }})
        as {{ prefix }}_cut_{{ cut }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
    The score of `value` against its cut points: 1 for values up to the first cut
    point, `bins` above the last (reversed when `descending`, as for recency, where
    the smallest values score highest). Equal values always share a score.
#}
{% macro rfm_score(value, prefix, bins, descending=false) -%}
    case
        {%- for cut in range(1, bins) %}
        when {{ value }} <= {{ prefix }}_cut_{{ cut }}
            then {{ bins - cut + 1 if descending else cut }}
        {%- endfor %}
        else {{ 1 if descending else bins }}
    end
{%- endmacro %}
