{{ config(alias='fct_campaign_variants') }}

-- One row per campaign per variant, as marts.fct_campaign_variants (counts only).

with

variants as (

    select * from {{ ref('fct_campaign_variants') }}

),

final as (

    select
        campaign_variant_id,
        campaign_id,
        variant,
        campaign_name,
        control_variant,
        currency,
        sends,
        deliveries,
        human_openers,
        machine_only_openers,
        human_opens,
        machine_opens,
        clickers,
        converters,
        conversions,
        revenue,
        human_open_rate,
        click_rate,
        conversion_rate,
        conversion_rate_lift,
        z_score,
        p_value,
        confidence_level,
        lift_ci_lower,
        lift_ci_upper,
        is_control,
        is_significant,
        is_attribution_complete,
        first_sent_at,
        last_sent_at

    from variants

)

select * from final
