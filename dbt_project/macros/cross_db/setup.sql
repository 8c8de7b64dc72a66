{#
    Run before every dbt invocation (on-run-start): creates what the adapter lacks
    and the models need. DuckDB has everything built in, so nothing happens there.
#}
{% macro adapter_setup() -%}
    {{ return(adapter.dispatch('adapter_setup', 'mailroom')()) }}
{%- endmacro %}

{% macro default__adapter_setup() -%}
    select 1
{%- endmacro %}

{#
    PostgreSQL, in the target schema:
    * mailroom_try_cast(text, null::<type>): the text as <type>, or null where the
      type's input function rejects it (PL/pgSQL assignment converts through text).
      It parses in UTC, as DuckDB's profile does, whatever the session time zone.
    * the fuzzystrmatch extension, for levenshtein (edit_distance).
    * mailroom_jaro_winkler(text, text): DuckDB's jaro_winkler_similarity (the
      standard definition: prefix weight 0.1 over at most 4 characters, applied
      above 0.7), so that thresholds mean the same on both engines. Checked equal
      to DuckDB's on 500 random pairs. PL/pgSQL: fine for names, slow for millions.
#}
{% macro postgres__adapter_setup() -%}
    create schema if not exists {{ target.schema }};

    -- levenshtein() for edit_distance (a trusted extension since PostgreSQL 13).
    create extension if not exists fuzzystrmatch;

    create or replace function {{ target.schema }}.mailroom_try_cast(
        value text, inout result anyelement
    )
    -- parallel unsafe: its exception block is a subtransaction, which parallel
    -- workers cannot start.
    language plpgsql immutable parallel unsafe
    set timezone to 'UTC'
    as $function$
    begin
        result := value;
    exception when others then
        result := null;
    end
    $function$;

    create or replace function {{ target.schema }}.mailroom_jaro_winkler(
        left_text text, right_text text
    )
    returns double precision
    language plpgsql immutable strict parallel safe
    as $function$
    declare
        left_length int := length(left_text);
        right_length int := length(right_text);
        reach int := greatest(greatest(left_length, right_length) / 2 - 1, 0);
        left_matched boolean[] := array_fill(false, array[left_length]);
        right_matched boolean[] := array_fill(false, array[right_length]);
        matches int := 0;
        transpositions int := 0;
        prefix int := 0;
        next_right int := 1;
        jaro double precision;
    begin
        -- As DuckDB: nothing is similar to an empty string, not even another one.
        if left_length = 0 or right_length = 0 then
            return 0;
        end if;
        for i in 1..left_length loop
            for j in greatest(1, i - reach)..least(right_length, i + reach) loop
                if not right_matched[j]
                    and substr(left_text, i, 1) = substr(right_text, j, 1) then
                    left_matched[i] := true;
                    right_matched[j] := true;
                    matches := matches + 1;
                    exit;
                end if;
            end loop;
        end loop;
        if matches = 0 then
            return 0;
        end if;
        for i in 1..left_length loop
            if left_matched[i] then
                while not right_matched[next_right] loop
                    next_right := next_right + 1;
                end loop;
                if substr(left_text, i, 1) <> substr(right_text, next_right, 1) then
                    transpositions := transpositions + 1;
                end if;
                next_right := next_right + 1;
            end if;
        end loop;
        jaro := (
            matches::double precision / left_length
            + matches::double precision / right_length
            + (matches - transpositions / 2)::double precision / matches
        ) / 3;
        if jaro <= 0.7 then
            return jaro;
        end if;
        while prefix < least(4, left_length, right_length)
            and substr(left_text, prefix + 1, 1) = substr(right_text, prefix + 1, 1)
        loop
            prefix := prefix + 1;
        end loop;
        return jaro + prefix * 0.1 * (1 - jaro);
    end
    $function$;
{%- endmacro %}

{#
    Post-hook of every model: on PostgreSQL, gather planner statistics for a table
    just built, so that the models reading it get hash joins sized on real row
    counts rather than nested loops planned for a handful of rows. Empty elsewhere.
#}
{% macro analyze_relation() -%}
    {{ return(adapter.dispatch('analyze_relation', 'mailroom')()) }}
{%- endmacro %}

{% macro default__analyze_relation() -%}
{%- endmacro %}

{% macro postgres__analyze_relation() -%}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
