"""Buy-till-you-die baselines: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma.

Both are fitted by maximum likelihood with ``scipy.optimize`` on the standard
likelihoods (the ``lifetimes`` package is unmaintained). Time is in days.
Inputs per customer: ``frequency`` = repeat purchase days (x), ``recency`` = days
between the first and the last purchase (t_x), ``age`` = days since the first
purchase (T), and for Gamma-Gamma the mean order value.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1


class BetaGeoModel:
    """BG/NBD model of repeat purchasing.

    Parameters
    ----------
    penalizer
        L2 penalty on the log-parameters; a small value keeps the fit stable on
        thin data.
    time_scale
        Days per model time unit during fitting (the optimizer works best when
        ages are of order 1-100); predictions always take days.
    max_fit_rows
        Fit on a seeded sample of at most this many customers (``None``: all).
        The four parameters describe the population: 100,000 customers pin them
        as well as a million do, at a tenth of the cost (each likelihood
        evaluation reads every row, and the optimizer needs a few hundred).
    random_state
        Seed of that sample.

    Attributes
    ----------
    params_ : dict[str, float]
        Fitted ``r``, ``alpha`` (in days), ``a``, ``b``.
    log_likelihood_ : float
        Mean log-likelihood at the optimum.
    """

    def __init__(
        self,
        penalizer: float = 0.0,
        time_scale: float = 7.0,
        max_fit_rows: int | None = 100_000,
        random_state: int = 0,
    ) -> None:
        self.penalizer = penalizer
        self.time_scale = time_scale
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    def fit(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> BetaGeoModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, age
            x, t_x and T per customer (see the module docstring), in days.

        Returns
        -------
        BetaGeoModel
            The fitted model.
        """
        x, t_x, age_units = _check(frequency, recency, age, self.time_scale)
        if self.max_fit_rows is not None and len(x) > self.max_fit_rows:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(len(x), size=self.max_fit_rows, replace=False))
            x, t_x, age_units = x[rows], t_x[rows], age_units[rows]

        def objective(log_params: np.ndarray) -> float:
            r, alpha, a, b = np.exp(log_params)
            ll = _bgnbd_log_likelihood(r, alpha, a, b, x, t_x, age_units)
            penalty = self.penalizer * float(np.sum(log_params**2))
            return -float(np.mean(ll)) + penalty

        start = np.log([1.0, max(float(np.mean(age_units)), 1e-3), 1.0, 1.0])
        best = None
        for method in ("L-BFGS-B", "Nelder-Mead"):
            result = minimize(
                objective,
                start,
                method=method,
                bounds=[(-10, 10)] * 4 if method == "L-BFGS-B" else None,
                options={"maxiter": 5000},
            )
            if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
                best = result
            if result.success:
                break
        if best is None:
            raise RuntimeError("BG/NBD fit did not converge on this data")
        r, alpha, a, b = np.exp(best.x)
        self.params_ = {
            "r": float(r),
            "alpha": float(alpha * self.time_scale),
            "a": float(a),
            "b": float(b),
        }
        self.log_likelihood_ = -float(best.fun)
        return self

    def probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """P(still active | history)."""
        r, alpha, a, b = self._params()
        x, t_x, age = _arrays(frequency, recency, age)
        log_ratio = (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        odds = np.where(
            x > 0,
            np.exp(np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) + log_ratio),
            0.0,
        )
        return 1.0 / (1.0 + odds)

    def probability_purchase(
        self,
        horizon: float,
        frequency: np.ndarray,
        recency: np.ndarray,
        age: np.ndarray,
    ) -> np.ndarray:
        """P(at least one purchase in the next ``horizon`` days | history).

        Under BG/NBD dropout happens only right after a purchase, so a customer who
        is alive and buys nothing stays alive; given alive, the rate's posterior is
        Gamma(r + x, alpha + T), hence P(no purchase | alive) =
        ((alpha + T) / (alpha + T + t)) ** (r + x).
        """
        r, alpha, _, _ = self._params()
        x, _, age_arr = _arrays(frequency, recency, age)
        alive = self.probability_alive(frequency, recency, age)
        none_if_alive = np.exp(
            (r + x) * (np.log(alpha + age_arr) - np.log(alpha + age_arr + horizon))
        )
        return alive * (1.0 - none_if_alive)

    def expected_purchases(
        self,
        horizon: float,
        frequency: np.ndarray,
        recency: np.ndarray,
        age: np.ndarray,
    ) -> np.ndarray:
        """Expected number of purchases in the next ``horizon`` days | history."""
        r, alpha, a, b = self._params()
        x, t_x, age_arr = _arrays(frequency, recency, age)
        z = horizon / (alpha + age_arr + horizon)
        with np.errstate(all="ignore"):
            hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
            numerator = (
                (a + b + x - 1)
                / (a - 1)
                * (
                    1
                    - ((alpha + age_arr) / (alpha + age_arr + horizon)) ** (r + x) * hyp
                )
            )
        alive = self.probability_alive(frequency, recency, age)
        exact = numerator / (
            1.0
            + np.where(
                x > 0,
                a
                / np.maximum(b + x - 1, 1e-12)
                * ((alpha + age_arr) / (alpha + t_x)) ** (r + x),
                0.0,
            )
        )
        # Where the hypergeometric series is unusable (a <= 1 or overflow), fall
        # back to P(alive) times the posterior mean rate times the horizon.
        approx = alive * (r + x) / (alpha + age_arr) * horizon
        usable = np.isfinite(exact) & (exact >= 0) & (a > 1)
        return np.where(usable, exact, approx)

    def _params(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise RuntimeError("BetaGeoModel is not fitted yet; call fit first")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]


class GammaGammaModel:
    """Gamma-Gamma model of the mean order value of repeat buyers.

    Parameters
    ----------
    penalizer
        L2 penalty on the log-parameters.

    Attributes
    ----------
    params_ : dict[str, float]
        Fitted ``p``, ``q``, ``v``.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: np.ndarray, monetary: np.ndarray) -> GammaGammaModel:
        """Fit on customers with at least one order and positive mean value.

        Parameters
        ----------
        frequency
            Number of orders the mean is taken over (>= 1).
        monetary
            Mean order value.

        Returns
        -------
        GammaGammaModel
            The fitted model.
        """
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        x, m = x[keep], m[keep]
        if len(x) < 3:
            raise ValueError("Gamma-Gamma needs at least 3 customers with orders")
        scale = float(np.mean(m))
        m_scaled = m / scale

        def objective(log_params: np.ndarray) -> float:
            p, q, v = np.exp(log_params)
            ll = (
                gammaln(p * x + q)
                - gammaln(p * x)
                - gammaln(q)
                + q * np.log(v)
                + (p * x - 1) * np.log(m_scaled)
                + (p * x) * np.log(x)
                - (p * x + q) * np.log(x * m_scaled + v)
            )
            return -float(np.mean(ll)) + self.penalizer * float(np.sum(log_params**2))

        result = minimize(
            objective,
            np.log([1.0, 2.0, 1.0]),
            method="L-BFGS-B",
            bounds=[(-10, 10)] * 3,
        )
        p, q, v = np.exp(result.x)
        self.params_ = {"p": float(p), "q": float(q), "v": float(v * scale)}
        self.population_mean_ = float(np.mean(m))
        return self

    def expected_order_value(
        self, frequency: np.ndarray, monetary: np.ndarray
    ) -> np.ndarray:
        """E[mean order value | x orders with mean m]; the prior mean when x = 0."""
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary, dtype=float))
        if q <= 1:
            return np.where(x > 0, m, self.population_mean_)
        prior = p * v / (q - 1)
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * prior + weight * m


def _arrays(
    frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.asarray(frequency, dtype=float),
        np.asarray(recency, dtype=float),
        np.asarray(age, dtype=float),
    )


def _check(
    frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, age_arr = _arrays(frequency, recency, age)
    if len(x) < 3:
        raise ValueError("BG/NBD needs at least 3 customers with purchase histories")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(age_arr < t_x - 1e-9):
        raise ValueError(
            "BG/NBD inputs must satisfy frequency >= 0 and 0 <= recency <= age"
        )
    return x, t_x / scale, age_arr / scale


def _bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    t_x: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.where(
        x > 0,
        np.log(a)
        - np.log(np.maximum(b + x - 1, 1e-12))
        - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)
