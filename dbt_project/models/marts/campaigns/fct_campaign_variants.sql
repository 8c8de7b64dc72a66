-- One row per campaign per variant: sends, opens (machine opens apart), clicks,
-- conversions attributed by UTM within the attribution window, revenue, and the
-- A/B test of the variant's conversion rate (converters per send) against the
-- campaign's control, its first variant by name: a two-proportion z-test (pooled
-- standard error) with a two-sided p-value, and a confidence interval for the
-- difference in rates (unpooled standard error). The control's own row has no test.

{%- set z_crit = z_critical(var('ab_confidence_level')) %}

with

results as (

    select * from {{ ref('int_campaign_variant_results') }}

),

campaigns as (

    select * from {{ ref('stg_esp__campaigns') }}

),

rates as (

    select
        *,
        human_openers * 1.0 / sends as human_open_rate,
        clickers * 1.0 / sends as click_rate,
        converters * 1.0 / sends as conversion_rate,
        min(variant) over (partition by campaign_id) as control_variant
    from results

),

against_control as (

    select
        rates.*,
        control.sends as control_sends,
        control.conversion_rate as control_conversion_rate,
        (rates.converters + control.converters) * 1.0
        / (rates.sends + control.sends) as pooled_rate
    from rates
    left join rates as control
        on
            rates.campaign_id = control.campaign_id
            and rates.control_variant = control.variant
            and rates.variant != rates.control_variant

),

standard_errors as (

    select
        *,
        conversion_rate - control_conversion_rate as conversion_rate_lift,
        sqrt(
            pooled_rate * (1 - pooled_rate)
            * (1.0 / sends + 1.0 / control_sends)
        ) as pooled_standard_error,
        sqrt(
            conversion_rate * (1 - conversion_rate) / sends
            + control_conversion_rate * (1 - control_conversion_rate)
            / control_sends
        ) as unpooled_standard_error
    from against_control

),

z_scores as (

    select
        *,
        case
            when pooled_standard_error > 0
                then conversion_rate_lift / pooled_standard_error
        end as z_score
    from standard_errors

),

tested as (

    select
        *,
        2 * (1 - {{ normal_cdf('abs(z_score)') }}) as p_value
    from z_scores

),

final as (

    select
        tested.campaign_variant_id,
        tested.campaign_id,
        tested.variant,
        campaigns.campaign_name,
        tested.control_variant,
        '{{ var("default_currency") }}' as currency,
        tested.sends,
        tested.deliveries,
        tested.human_openers,
        tested.machine_only_openers,
        tested.human_opens,
        tested.machine_opens,
        tested.clickers,
        tested.converters,
        tested.conversions,
        cast(tested.revenue as decimal(18, 2)) as revenue,
        {{ round_float('tested.human_open_rate', 4) }} as human_open_rate,
        {{ round_float('tested.click_rate', 4) }} as click_rate,
        {{ round_float('tested.conversion_rate', 4) }} as conversion_rate,
        {{ round_float('tested.conversion_rate_lift', 4) }} as conversion_rate_lift,
        {{ round_float('tested.z_score', 4) }} as z_score,
        {{ round_float('tested.p_value', 4) }} as p_value,
        cast({{ var('ab_confidence_level') }} as decimal(3, 2))
            as confidence_level,
        {{ round_float(
            'tested.conversion_rate_lift - ' ~ z_crit
            ~ ' * tested.unpooled_standard_error', 4
        ) }} as lift_ci_lower,
        {{ round_float(
            'tested.conversion_rate_lift + ' ~ z_crit
            ~ ' * tested.unpooled_standard_error', 4
        ) }} as lift_ci_upper,
        tested.variant = tested.control_variant as is_control,
        coalesce(
            tested.p_value < 1 - {{ var('ab_confidence_level') }}, false
        ) as is_significant,
        {{ dbt.dateadd(
            'hour', var('campaign_attribution_window_hours'), 'tested.last_sent_at'
        ) }} <= {{ as_of_timestamp() }} as is_attribution_complete,
        tested.first_sent_at,
        tested.last_sent_at
    from tested
    left join campaigns
        on tested.campaign_id = campaigns.campaign_id

)

select * from final
