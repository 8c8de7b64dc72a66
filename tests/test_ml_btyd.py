"""BG/NBD and Gamma-Gamma recover known parameters from data simulated from them."""

from __future__ import annotations

import numpy as np

from ml.btyd import BetaGeoModel, GammaGammaModel


def _simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, age: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > age:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < dropout[i]:
                break
    return x, t_x, np.full(n, age)


def test_bg_nbd_recovers_known_parameters() -> None:
    x, t_x, age = _simulate_bgnbd(4000, 0.25, 28.0, 0.8, 2.5, 273.0, seed=0)
    params = BetaGeoModel().fit(x, t_x, age).params_
    assert abs(params["r"] - 0.25) / 0.25 < 0.2
    assert abs(params["alpha"] - 28.0) / 28.0 < 0.25
    # a and b are weakly identified one by one; the mean dropout a / (a + b) is not.
    assert abs(params["a"] / (params["a"] + params["b"]) - 0.8 / 3.3) < 0.05


def test_bg_nbd_predictions_are_sane() -> None:
    x, t_x, age = _simulate_bgnbd(2000, 0.5, 20.0, 0.7, 3.0, 200.0, seed=1)
    model = BetaGeoModel().fit(x, t_x, age)
    alive = model.probability_alive(x, t_x, age)
    assert np.all(alive[x == 0] == 1.0)
    buy = model.probability_purchase(30, x, t_x, age)
    expected = model.expected_purchases(30, x, t_x, age)
    assert np.all((buy >= 0) & (buy <= 1))
    assert np.all(expected >= buy - 1e-9)
    # Same frequency, more recent last purchase: more likely to buy.
    more_recent = model.probability_purchase(30, [3, 3], [190, 50], [200, 200])
    assert more_recent[0] > more_recent[1]


def test_gamma_gamma_recovers_the_mean_order_value() -> None:
    rng = np.random.default_rng(2)
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, 3000)
    x = rng.integers(1, 8, 3000)
    means = np.array(
        [rng.gamma(p * k, 1 / (nu_i * k)) for k, nu_i in zip(x, nu, strict=True)]
    )
    model = GammaGammaModel().fit(x, means)
    fitted = model.params_
    population_mean = fitted["p"] * fitted["v"] / (fitted["q"] - 1)
    assert abs(population_mean - p * v / (q - 1)) / (p * v / (q - 1)) < 0.1
    shrunk = model.expected_order_value(np.array([1, 50]), np.array([500.0, 500.0]))
    assert shrunk[0] < shrunk[1] <= 500.0
