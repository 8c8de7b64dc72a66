{#
    The standard normal CDF of a SQL expression, in plain arithmetic so that it runs
    on any warehouse (few have erf): 0.5 * (1 + erf(x / sqrt(2))), with erf from
    Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
#}
{% macro normal_cdf(x) -%}
    (0.5 * (1 + {{ erf('(' ~ x ~ ') / sqrt(2.0)') }}))
{%- endmacro %}

{% macro erf(x) -%}
    {%- set t = '(1.0 / (1.0 + 0.3275911 * abs(' ~ x ~ ')))' -%}
    (
        case when ({{ x }}) < 0 then -1.0 else 1.0 end
        * (
            1.0 - (
                0.254829592 * {{ t }}
                - 0.284496736 * power({{ t }}, 2)
                + 1.421413741 * power({{ t }}, 3)
                - 1.453152027 * power({{ t }}, 4)
                + 1.061405429 * power({{ t }}, 5)
            ) * exp(-1.0 * ({{ x }}) * ({{ x }}))
        )
    )
{%- endmacro %}
