r"""Binomial-normal random-intercept logistic model for single proportions (a GLMM).

Model (Hamza et al. 2008, key ``hamza2008``; Stijnen et al. 2010, key ``stijnen2010``):

.. math::

    x_i \mid \theta_i \sim \mathrm{Bin}(n_i, \operatorname{expit}\theta_i), \qquad
    \theta_i = \mu + \tau z_i, \quad z_i \sim N(0, 1),

fitted by maximum likelihood on the counts, with no continuity correction. The marginal
likelihood of study :math:`i` is

.. math::

    L_i(\mu, \tau) = \binom{n_i}{x_i} \int \operatorname{expit}(\mu + \tau z)^{x_i}
    \{1 - \operatorname{expit}(\mu + \tau z)\}^{n_i - x_i} \varphi(z)\,dz,

computed by adaptive Gauss-Hermite quadrature (Pinheiro and Bates 1995, key ``pinheiro1995``)
in the non-centred variable :math:`z`: the nodes are centred at the mode :math:`\hat z_i` of the
integrand and scaled by :math:`s_i = (1 + \tau^2 n_i \hat p_i (1 - \hat p_i))^{-1/2}`, so that

.. math::

    L_i \approx \binom{n_i}{x_i} \frac{s_i}{\sqrt{\pi}} \sum_j w_j e^{t_j^2}
    \exp\{\ell_i(\mu + \tau z_{ij}) - z_{ij}^2 / 2\}, \qquad z_{ij} = \hat z_i + \sqrt{2}\,s_i t_j.

The number of nodes is raised (``NODE_SEQUENCE``) until the log-likelihood at the estimate
changes by less than ``1e-8``. When even 150 nodes do not get there (tau so large that the
integrand of a 0- or n-event study is a sharp one-sided step), composite Gauss-Legendre
quadrature on panels bounded by level sets of the (strictly concave) log integrand is used
instead; ``GLMMFit.quadrature`` and ``message`` say so.

Working in :math:`z` makes the likelihood smooth and even in :math:`\tau`, so the boundary
:math:`\tau = 0` (the fixed-effect logistic model) needs no special case: the optimiser works
on :math:`(\mu, \tau)` with :math:`\tau` of either sign rather than on :math:`\log\tau`.

Gradient and Hessian are exact identities evaluated with the same nodes:
:math:`\partial \log L_i = E_i[\partial \ell_i]` and
:math:`\partial^2 \log L_i = E_i[\partial^2 \ell_i] + \operatorname{Cov}_i(\partial \ell_i)`,
expectations over the posterior of :math:`z_i`, with :math:`\partial_\mu \ell = x - n p`,
:math:`\partial_\tau \ell = (x - n p) z`, :math:`\partial^2_{\mu\mu} \ell = -n p (1 - p)`,
:math:`\partial^2_{\mu\tau} \ell = -n p (1 - p) z`, :math:`\partial^2_{\tau\tau} \ell = -n p (1 - p)
z^2`. The estimate is found by a safeguarded (saddle-free) Newton ascent, and the standard error
of :math:`\mu` comes from the inverse of the joint observed information of :math:`(\mu, \tau)`,
as lme4 and metafor report it. Holding :math:`\tau` fixed would give the smaller
:math:`(-\partial^2_{\mu\mu} \log L)^{-1/2}`.

Pure: no file or network I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from analysis.engine.quadrature import gauss_hermite, gauss_legendre

__all__ = ["GLMMFit", "fit_binomial_normal", "marginal_loglik"]

#: Node counts tried in turn; the fit uses the first whose log-likelihood at the estimate
#: differs from the next one's by less than ``LOGLIK_TOL``.
NODE_SEQUENCE = (11, 15, 21, 31, 45, 65, 95, 150, -20, -30)
#: Drops of the log integrand below its maximum that delimit the panels of the fallback rule
#: (entries -20 and -30 of ``NODE_SEQUENCE``: Gauss-Legendre nodes per panel).
PANEL_LEVELS = np.array([0.25, 1.0, 2.5, 5.0, 10.0, 17.0, 26.0, 38.0, 52.0])
#: Largest change in the log-likelihood accepted between two successive node counts.
LOGLIK_TOL = 1e-8
#: A fit whose tau exceeds this (logit scale) is reported as diverging.
TAU_MAX = 50.0
#: Iteration cap of the Newton ascent.
MAX_ITER = 100
_SQRT2 = math.sqrt(2.0)
_HALF_LOG_PI = 0.5 * math.log(math.pi)


@dataclass(frozen=True)
class GLMMFit:
    """Result of :func:`fit_binomial_normal` (logit scale).

    Attributes
    ----------
    mu, se : float
        ML estimate of the mean logit and its standard error from the joint observed
        information of (mu, tau). Non-finite only when ``converged`` is False (see ``message``).
    tau2, se_tau2 : float
        ML estimate of the between-study variance and its delta-method standard error
        (``2 tau se(tau)``); ``se_tau2`` is NaN when ``tau2`` sits on the boundary 0 (said in
        ``message``).
    loglik : float
        Exact (quadrature-converged) marginal log-likelihood at the estimate, including the
        binomial coefficients (the scale metafor reports).
    loglik_fixed : float
        Log-likelihood of the fixed-effect logistic model (one common proportion).
    loglik_saturated : float
        Log-likelihood of the saturated model (one proportion per study).
    lrt, lrt_df, lrt_pvalue : float, int, float
        metafor's likelihood-ratio test for heterogeneity, ``QE.LRT``:
        ``2 (loglik_saturated - loglik_fixed)`` on ``k - 1`` df (``lrt_pvalue`` is 1 when k = 1).
    lrt_tau, lrt_tau_pvalue : float
        Likelihood-ratio test of tau^2 = 0, ``2 (loglik - loglik_fixed)``, chi-square 1 df
        (conservative at the boundary: the 50:50 chi-square mixture would halve the p-value).
    q_wald, q_wald_df, q_wald_pvalue : float, int, float
        metafor's Wald-type test ``QE.Wld`` from the saturated model: the inverse-variance Q of
        the study logits with ML variances; studies with 0 or n events get weight 0 (their
        saturated-model variance is infinite).
    mu_fixed, se_fixed : float
        Fixed-effect logistic estimate ``logit(sum x / sum n)`` and its SE.
    converged : bool
        False when no finite ML estimate exists or the optimiser or the quadrature failed.
    message : str
        Why ``converged`` is False, or notes on a boundary estimate; empty otherwise.
    n_nodes : int
        Quadrature nodes per study used for the reported numbers.
    quadrature : str
        ``"adaptive Gauss-Hermite"``, or ``"level-set Gauss-Legendre panels"`` when Gauss-Hermite
        with 150 nodes does not reach the accuracy (extreme tau), or ``"none"`` when no
        likelihood maximisation was needed.
    iterations : int
        Newton iterations used.
    k : int
        Number of studies.
    """

    mu: float
    se: float
    tau2: float
    loglik: float
    loglik_fixed: float
    lrt: float
    lrt_pvalue: float
    converged: bool
    message: str
    n_nodes: int
    k: int
    se_tau2: float
    lrt_df: int
    lrt_tau: float
    lrt_tau_pvalue: float
    q_wald: float
    q_wald_df: int
    q_wald_pvalue: float
    mu_fixed: float
    se_fixed: float
    loglik_saturated: float
    iterations: int
    quadrature: str

    @property
    def tau(self) -> float:
        """Between-study standard deviation, ``sqrt(tau2)``."""
        return math.sqrt(self.tau2)


# --------------------------------------------------------------------------- input checks


def _study_name(labels: Any, i: int) -> str:
    if labels is None:
        return f"study {i + 1}"
    return f"study {labels[i]!r} (row {i + 1})"


def _as_counts(values: Any, name: str, labels: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object).ravel()
    out = np.empty(arr.size, dtype=float)
    for i, v in enumerate(arr):
        try:
            f = float(v)
        except (TypeError, ValueError):
            msg = f"{name} of {_study_name(labels, i)} is not a number: {v!r}"
            raise ValueError(msg) from None
        if not math.isfinite(f) or f < 0 or f != math.floor(f):
            msg = f"{name} of {_study_name(labels, i)} must be a non-negative integer, got {v!r}"
            raise ValueError(msg)
        out[i] = f
    return out


def _validate(events: Any, n: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    x = _as_counts(events, "events", labels)
    m = _as_counts(n, "n", labels)
    if x.size != m.size:
        msg = f"events and n have different lengths ({x.size} and {m.size})"
        raise ValueError(msg)
    if x.size == 0:
        msg = "no studies given (k = 0)"
        raise ValueError(msg)
    if labels is not None and len(labels) != x.size:
        msg = f"labels has length {len(labels)} but there are {x.size} studies"
        raise ValueError(msg)
    for i in range(x.size):
        if m[i] == 0:
            msg = f"n of {_study_name(labels, i)} is 0: a study needs at least one participant"
            raise ValueError(msg)
        if x[i] > m[i]:
            msg = f"events of {_study_name(labels, i)} exceed n ({x[i]:g} > {m[i]:g})"
            raise ValueError(msg)
    return x, m


# --------------------------------------------------------------------------- likelihood


def _log_choose(x: np.ndarray, n: np.ndarray) -> float:
    return float(
        np.sum(special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1))
    )


def _modes(x: np.ndarray, n: np.ndarray, mu: float, tau: float) -> np.ndarray:
    r"""Mode :math:`\hat z_i` of :math:`g_i(z) = \ell_i(\mu + \tau z) - z^2/2` per study.

    :math:`g_i'(z) = \tau (x_i - n_i p) - z` is strictly decreasing, and its root lies in
    :math:`[\tau (x_i - n_i), \tau x_i]` (for :math:`\tau > 0`), so a bracketed Newton iteration
    (bisection whenever Newton leaves the bracket) always converges.
    """
    if tau == 0.0:
        return np.zeros_like(x)
    a, b = tau * (x - n), tau * x
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    z = np.clip(0.0, lo, hi)
    last_step = hi - lo
    tt_n = tau * tau * n  # (tau * tau) * n, as the curvature below multiplies it
    for _ in range(200):
        p = special.expit(mu + tau * z)
        grad = tau * (x - n * p) - z
        up = grad > 0
        lo = np.where(up, z, lo)
        hi = np.where(up, hi, z)  # grad <= 0 (grad is never NaN: p lies in [0, 1])
        step = grad / (1.0 + tt_n * p * (1.0 - p))
        abs_step = np.abs(step)
        moving = abs_step > 1e-13 * (1.0 + np.abs(z))
        if not moving.any():
            return z + step
        z_new = z + step
        # Newton can cycle on this sigmoid-shaped gradient: bisect (as in "rtsafe") when
        # it lands on or outside the bracket or its step does not halve, except for
        # studies that have already converged
        bisect = ((z_new <= lo) | (z_new >= hi) | (abs_step > 0.5 * np.abs(last_step))) & moving
        if bisect.any():
            z = np.where(bisect, 0.5 * (lo + hi), z_new)
            last_step = np.where(bisect, 0.5 * (hi - lo), step)
        else:
            z, last_step = z_new, step
    return z


def _g(x: np.ndarray, n: np.ndarray, mu: float, tau: float, z: np.ndarray) -> np.ndarray:
    """Log integrand without constants: ell(mu + tau z) - z^2 / 2 (x, n broadcast to z)."""
    eta = mu + tau * z
    return x * eta - n * np.logaddexp(0.0, eta) - 0.5 * z * z


def _agq_nodes(
    x: np.ndarray, n: np.ndarray, mu: float, tau: float, n_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive Gauss-Hermite nodes z (k, Q) and log weights (constants included)."""
    t, logw = gauss_hermite(n_nodes)
    zhat = _modes(x, n, mu, tau)
    ph = special.expit(mu + tau * zhat)
    s = 1.0 / np.sqrt(1.0 + tau * tau * n * ph * (1.0 - ph))
    z = zhat[:, None] + (_SQRT2 * s)[:, None] * t[None, :]
    return z, logw[None, :] + (np.log(s) - _HALF_LOG_PI)[:, None]


def _panel_nodes(
    x: np.ndarray, n: np.ndarray, mu: float, tau: float, per_panel: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Composite Gauss-Legendre nodes on level-set panels (fallback for extreme tau).

    :math:`g_i` is strictly concave, so on each side of the mode the points where it has
    dropped by ``PANEL_LEVELS`` below its maximum are unique (found by bisection). Panels
    between them are short where the integrand changes fast, and Gauss-Legendre on each panel
    converges for any :math:`\tau`, where Gauss-Hermite may not.
    """
    xc, nc = x[:, None], n[:, None]
    zhat = _modes(x, n, mu, tau)[:, None]
    target = _g(xc, nc, mu, tau, zhat) - PANEL_LEVELS[None, :]
    edges = []
    for side in (-1.0, 1.0):
        lo = np.zeros_like(target)
        hi = np.ones_like(target)
        for _ in range(80):
            above = _g(xc, nc, mu, tau, zhat + side * hi) > target
            if not above.any():
                break
            hi = np.where(above, 2.0 * hi, hi)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            above = _g(xc, nc, mu, tau, zhat + side * mid) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        edges.append(zhat + side * 0.5 * (lo + hi))
    bounds = np.concatenate([edges[0][:, ::-1], zhat, edges[1]], axis=1)
    left, right = bounds[:, :-1], bounds[:, 1:]
    u, w = gauss_legendre(per_panel)
    half = 0.5 * (right - left)
    z = (0.5 * (left + right))[:, :, None] + half[:, :, None] * u[None, None, :]
    logw = np.log(half)[:, :, None] + np.log(w)[None, None, :] - 0.5 * math.log(2.0 * math.pi)
    k = x.size
    return z.reshape(k, -1), logw.reshape(k, -1)


def _agq_terms(
    x: np.ndarray, n: np.ndarray, mu: float, tau: float, n_nodes: int
) -> tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Log-likelihood without binomial coefficients, and the terms its derivatives reuse.

    ``n_nodes`` > 0 selects adaptive Gauss-Hermite with that many nodes; ``n_nodes`` < 0 the
    level-set panel rule with ``-n_nodes`` Gauss-Legendre nodes per panel.
    """
    if n_nodes > 0:
        z, logw = _agq_nodes(x, n, mu, tau, n_nodes)
    else:
        z, logw = _panel_nodes(x, n, mu, tau, -n_nodes)
    eta = mu + tau * z
    a = logw + x[:, None] * eta - n[:, None] * np.logaddexp(0.0, eta) - 0.5 * z * z
    amax = a.max(axis=1, keepdims=True)
    e = np.exp(a - amax)
    total = e.sum(axis=1)
    loglik = float(np.sum(amax[:, 0] + np.log(total)))
    return loglik, (z, eta, e, total)


def _agq_derivs(
    x: np.ndarray, n: np.ndarray, terms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian in (mu, tau) of the log-likelihood whose terms :func:`_agq_terms` gave."""
    z, eta, e, total = terms
    w_post = e / total[:, None]
    p = special.expit(eta)
    r = x[:, None] - n[:, None] * p
    v = n[:, None] * p * (1.0 - p)
    rz = r * z
    e_r = np.sum(w_post * r, axis=1)
    e_rz = np.sum(w_post * rz, axis=1)
    grad = np.array([e_r.sum(), e_rz.sum()])
    h_mm = np.sum(w_post * (r * r - v), axis=1) - e_r * e_r
    h_mt = np.sum(w_post * (r * rz - v * z), axis=1) - e_r * e_rz
    h_tt = np.sum(w_post * (rz * rz - v * z * z), axis=1) - e_rz * e_rz
    hess = np.array([[h_mm.sum(), h_mt.sum()], [h_mt.sum(), h_tt.sum()]])
    return grad, hess


def _agq(
    x: np.ndarray, n: np.ndarray, mu: float, tau: float, n_nodes: int, derivs: bool
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Log-likelihood without binomial coefficients; with gradient and Hessian if asked.

    ``n_nodes`` as in :func:`_agq_terms`.
    """
    loglik, terms = _agq_terms(x, n, mu, tau, n_nodes)
    if not derivs:
        return loglik, None, None
    grad, hess = _agq_derivs(x, n, terms)
    return loglik, grad, hess


def marginal_loglik(events: Any, n: Any, mu: float, tau2: float, n_nodes: int = 0) -> float:
    """Marginal log-likelihood of the binomial-normal model at (mu, tau2).

    Parameters
    ----------
    events, n : array_like of int, shape (k,)
        Event counts and sample sizes.
    mu : float
        Mean logit.
    tau2 : float
        Between-study variance (>= 0).
    n_nodes : int, optional
        Gauss-Hermite nodes per study; 0 (default) raises the count until the value changes
        by less than ``LOGLIK_TOL``.

    Returns
    -------
    float
        :math:`\\sum_i \\log L_i(\\mu, \\tau)` including the binomial coefficients.
    """
    x, m = _validate(events, n, None)
    if not (math.isfinite(mu) and math.isfinite(tau2) and tau2 >= 0):
        msg = f"mu must be finite and tau2 finite and >= 0, got mu={mu!r}, tau2={tau2!r}"
        raise ValueError(msg)
    tau = math.sqrt(tau2)
    const = _log_choose(x, m)
    if n_nodes:
        return _agq(x, m, mu, tau, n_nodes, False)[0] + const
    value, q = _converged_loglik(x, m, mu, tau, 0)
    if q is None:
        msg = "quadrature did not reach the requested accuracy"
        raise ArithmeticError(msg)
    return value + const


def _converged_loglik(
    x: np.ndarray, n: np.ndarray, mu: float, tau: float, start: int, first: float | None = None
) -> tuple[float, int | None]:
    """Log-likelihood with the smallest node count (from index ``start``) that is stable.

    ``first``: the log-likelihood at (mu, tau) with ``NODE_SEQUENCE[start]`` nodes when already
    known (the optimiser's last value), so that it is not computed again.
    """
    prev = _agq(x, n, mu, tau, NODE_SEQUENCE[start], False)[0] if first is None else first
    for j in range(start + 1, len(NODE_SEQUENCE)):
        cur = _agq(x, n, mu, tau, NODE_SEQUENCE[j], False)[0]
        if abs(cur - prev) < LOGLIK_TOL:
            return prev, j - 1
        prev = cur
    return prev, None


# --------------------------------------------------------------------------- optimisation


def _ascent_direction(grad: np.ndarray, hess: np.ndarray) -> np.ndarray:
    """Saddle-free Newton direction: (|-H|)^{-1} g with eigenvalues floored."""
    vals, vecs = np.linalg.eigh(-hess)
    scale = max(1.0, float(np.max(np.abs(vals))))
    vals = np.maximum(np.abs(vals), 1e-10 * scale)
    return vecs @ ((vecs.T @ grad) / vals)


def _maximise(
    x: np.ndarray, n: np.ndarray, theta: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, bool, int, str]:
    ll, g, h = _agq(x, n, theta[0], theta[1], n_nodes, True)
    stalled = 0
    for it in range(1, MAX_ITER + 1):
        d = _ascent_direction(g, h)
        norm = float(np.max(np.abs(d)))
        if norm > 2.0:
            d = d * (2.0 / norm)
        slope = float(g @ d)
        interior_max = bool(np.all(np.linalg.eigvalsh(-h) > 0))
        if interior_max and slope < 1e-13 * max(1.0, abs(ll)):
            return theta, ll, g, h, True, it, ""
        step = 1.0
        for _ in range(30):
            cand = theta + step * d
            ll_c, terms = _agq_terms(x, n, cand[0], cand[1], n_nodes)
            if np.isfinite(ll_c) and ll_c >= ll + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            ok = interior_max and float(np.max(np.abs(g))) < 1e-6
            return theta, ll, g, h, ok, it, "" if ok else "line search failed"
        stalled = stalled + 1 if ll_c - ll < 1e-10 * max(1.0, abs(ll)) else 0
        theta = cand
        ll = ll_c  # the accepted point's log-likelihood; its derivatives from the same terms
        g, h = _agq_derivs(x, n, terms)
        if abs(theta[1]) > TAU_MAX:
            return theta, ll, g, h, False, it, f"tau diverged beyond {TAU_MAX:g}"
        if float(np.max(np.abs(step * d))) < 1e-12 and interior_max:
            return theta, ll, g, h, True, it, ""
        if stalled >= 8:
            return (
                theta,
                ll,
                g,
                h,
                False,
                it,
                "no progress (likelihood flat or quadrature too coarse)",
            )
    return theta, ll, g, h, False, MAX_ITER, f"no convergence in {MAX_ITER} iterations"


def _start(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Starting values: pooled logit and a DerSimonian-Laird tau on corrected logits."""
    mu0 = math.log((x.sum() + 0.5) / (n.sum() - x.sum() + 0.5))
    cc = np.where((x == 0) | (x == n), 0.5, 0.0)
    y = np.log((x + cc) / (n - x + cc))
    v = 1.0 / (x + cc) + 1.0 / (n - x + cc)
    tau0 = 0.5
    if x.size > 1:
        w = 1.0 / v
        q = float(np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2))
        c = w.sum() - np.sum(w * w) / w.sum()
        tau0 = math.sqrt(max(0.0, (q - (x.size - 1)) / c))
    return np.array([mu0, min(max(tau0, 0.3), 3.0)])


# --------------------------------------------------------------------------- reference models


def _fixed_and_saturated(x: np.ndarray, n: np.ndarray, const: float) -> dict[str, float]:
    xs, ns = float(x.sum()), float(n.sum())
    p = xs / ns
    ll_fixed = const + float(special.xlogy(xs, p) + special.xlogy(ns - xs, 1.0 - p))
    pi = x / n
    ll_sat = const + float(np.sum(special.xlogy(x, pi) + special.xlogy(n - x, 1.0 - pi)))
    if 0.0 < p < 1.0:
        mu_f, se_f = math.log(p / (1.0 - p)), 1.0 / math.sqrt(ns * p * (1.0 - p))
    else:
        mu_f, se_f = (-math.inf if p == 0.0 else math.inf), math.inf
    mid = (x > 0) & (x < n)
    q = 0.0
    if mid.sum() > 1:
        y = np.log(x[mid] / (n[mid] - x[mid]))
        w = n[mid] * pi[mid] * (1.0 - pi[mid])
        q = float(np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2))
    return {"ll_fixed": ll_fixed, "ll_sat": ll_sat, "mu_fixed": mu_f, "se_fixed": se_f, "q": q}


def _chi2_sf(stat: float, df: int) -> float:
    # the ufunc behind scipy.stats.chi2.sf (same values, without the distribution's overhead)
    return 1.0 if df < 1 else float(special.chdtrc(df, max(stat, 0.0)))


def _extreme_supremum(x: np.ndarray, n: np.ndarray, const: float) -> float:
    r"""Supremum of the log-likelihood when every study has 0 or n events, both kinds present.

    With :math:`\mu = a\tau` and :math:`\tau \to \infty`, :math:`L_i \to \Phi(-a)` for a zero
    study and :math:`\Phi(a)` for an all-event study; the supremum over :math:`a` is the limit.
    """
    m0, m1 = float(np.sum(x == 0)), float(np.sum(x == n))

    def neg(a: float) -> float:
        return -(m0 * special.log_ndtr(-a) + m1 * special.log_ndtr(a))

    res = optimize.minimize_scalar(
        neg, bounds=(-20.0, 20.0), method="bounded", options={"xatol": 1e-12}
    )
    return const - float(res.fun)


# --------------------------------------------------------------------------- public fit


def fit_binomial_normal(events: Any, n: Any, labels: Any = None) -> GLMMFit:
    r"""Fit the binomial-normal random-intercept logistic model by maximum likelihood.

    Parameters
    ----------
    events : array_like of int, shape (k,)
        Number of events per study, ``0 <= events <= n``.
    n : array_like of int, shape (k,)
        Number of participants per study, ``n >= 1``.
    labels : sequence of str, optional
        Study labels, used only to name a study in error messages. Default = None.

    Returns
    -------
    GLMMFit
        Estimates on the logit scale. ``converged`` is False, with the reason in ``message``,
        when no finite ML estimate exists: every study with 0 events (:math:`\hat\mu = -\infty`),
        every study with n events (:math:`+\infty`), or every study with 0 or n events and both
        kinds present (the likelihood keeps rising as :math:`\tau \to \infty`; ``mu`` and ``se``
        are then NaN and ``tau2`` is infinite). Callers should fall back to another estimator.

    Raises
    ------
    ValueError
        Non-integer or negative counts, events > n, n = 0, mismatched lengths or k = 0; the
        message names the study.

    Notes
    -----
    Model, quadrature and derivatives are described in the module docstring. The optimiser is a
    Newton ascent over :math:`(\mu, \tau)` in which :math:`\tau` may take either sign (the
    likelihood is even in :math:`\tau`), with eigenvalue-modified Hessian and backtracking line
    search, started at the pooled logit and a DerSimonian-Laird :math:`\tau`. Its optimum is
    compared with the fixed-effect logistic fit (:math:`\tau = 0`) and the better one kept. With
    k = 1 the likelihood is maximal at :math:`\tau = 0` and the single study's logit is returned.
    metafor's ``rma.glmm`` (lme4, 7-node AGQ) reaches the same estimates where heterogeneity is
    moderate; where it is large, this fit reaches an equal or higher exact likelihood.

    References
    ----------
    ``hamza2008``, ``stijnen2010``, ``pinheiro1995``.
    """
    x, m = _validate(events, n, labels)
    k = int(x.size)
    const = _log_choose(x, m)
    ref = _fixed_and_saturated(x, m, const)
    lrt = max(0.0, 2.0 * (ref["ll_sat"] - ref["ll_fixed"]))
    common = {
        "loglik_fixed": ref["ll_fixed"],
        "loglik_saturated": ref["ll_sat"],
        "k": k,
        "lrt": lrt,
        "lrt_df": k - 1,
        "lrt_pvalue": _chi2_sf(lrt, k - 1),
        "q_wald": ref["q"],
        "q_wald_df": k - 1,
        "q_wald_pvalue": _chi2_sf(ref["q"], k - 1),
        "mu_fixed": ref["mu_fixed"],
        "se_fixed": ref["se_fixed"],
    }
    mid = (x > 0) & (x < m)
    if not mid.any():
        return _no_finite_estimate(x, m, const, ref, common)
    return _fit_finite(x, m, const, ref, common)


def _no_finite_estimate(
    x: np.ndarray, m: np.ndarray, const: float, ref: dict[str, float], common: dict[str, Any]
) -> GLMMFit:
    if np.all(x == 0) or np.all(x == m):
        side = "0 events" if np.all(x == 0) else "all events (x = n)"
        sign = -1.0 if np.all(x == 0) else 1.0
        msg = (
            f"every study has {side}: the ML estimate of the logit is {'-' if sign < 0 else '+'}"
            "infinity and tau^2 is not identifiable (tau^2 reported as 0)"
        )
        return GLMMFit(
            mu=sign * math.inf,
            se=math.inf,
            tau2=0.0,
            loglik=ref["ll_fixed"],
            converged=False,
            message=msg,
            n_nodes=0,
            se_tau2=math.nan,
            lrt_tau=0.0,
            lrt_tau_pvalue=1.0,
            iterations=0,
            quadrature="none",
            **common,
        )
    sup = _extreme_supremum(x, m, const)
    lrt_tau = max(0.0, 2.0 * (sup - ref["ll_fixed"]))
    msg = (
        "every study has 0 or n events (both occur): the likelihood increases without bound "
        "as tau -> infinity, so no finite ML estimate exists (mu and its SE undefined, tau^2 infinite; "
        "loglik is the supremum)"
    )
    return GLMMFit(
        mu=math.nan,
        se=math.nan,
        tau2=math.inf,
        loglik=sup,
        converged=False,
        message=msg,
        n_nodes=0,
        se_tau2=math.nan,
        lrt_tau=lrt_tau,
        lrt_tau_pvalue=_chi2_sf(lrt_tau, 1),
        iterations=0,
        quadrature="none",
        **common,
    )


def _fit_finite(
    x: np.ndarray, m: np.ndarray, const: float, ref: dict[str, float], common: dict[str, Any]
) -> GLMMFit:
    q_idx = 1
    theta = _start(x, m)
    iterations = 0
    notes: list[str] = []
    while True:
        theta, ll, _, h, ok, it, why = _maximise(x, m, theta, NODE_SEQUENCE[q_idx])
        iterations += it
        if not ok:
            retry = _maximise(
                x,
                m,
                np.array([theta[0] if np.isfinite(theta[0]) else 0.0, 1.0]),
                NODE_SEQUENCE[q_idx],
            )
            if retry[4]:
                theta, ll, _, h, ok, it, why = retry
                iterations += it
        if ok and abs(theta[1]) < 1e-4 and h[1, 1] > 0:
            # stationary at tau = 0 but not a maximum in tau: restart away from the boundary
            retry = _maximise(x, m, np.array([theta[0], 1.0]), NODE_SEQUENCE[q_idx])
            iterations += retry[5]
            if retry[4] and retry[1] > ll:
                theta, ll, _, h, ok, it, why = retry
        if not ok and NODE_SEQUENCE[q_idx] > 0:
            # a rule too coarse for a large tau can derail the ascent: restart with the
            # level-set panel rule, which is accurate for any tau
            q_idx = NODE_SEQUENCE.index(-20)
            theta = _start(x, m)
            continue
        if not ok:
            break
        _, j = _converged_loglik(x, m, theta[0], theta[1], q_idx, ll)
        if j is None:
            ok, why = (
                False,
                (
                    "quadrature did not converge (150 Gauss-Hermite nodes, "
                    "30 Gauss-Legendre nodes per panel)"
                ),
            )
            break
        if j == q_idx:
            break
        q_idx = j
    rule = NODE_SEQUENCE[q_idx]
    n_nodes = rule if rule > 0 else -rule * PANEL_LEVELS.size * 2
    quadrature = "adaptive Gauss-Hermite" if rule > 0 else "level-set Gauss-Legendre panels"
    if rule < 0:
        notes.append(
            "adaptive Gauss-Hermite did not reach 1e-8 with 150 nodes (extreme "
            "heterogeneity for these counts); composite Gauss-Legendre on level-set "
            "panels used instead"
        )
    mu, tau = float(theta[0]), abs(float(theta[1]))
    if not ok:
        return GLMMFit(
            mu=mu,
            se=math.nan,
            tau2=tau * tau,
            loglik=ll + const,
            converged=False,
            message=f"GLMM did not converge: {why}",
            n_nodes=n_nodes,
            se_tau2=math.nan,
            lrt_tau=math.nan,
            lrt_tau_pvalue=math.nan,
            iterations=iterations,
            quadrature=quadrature,
            **common,
        )
    loglik = ll + const
    if ref["ll_fixed"] >= loglik - 1e-10 and np.isfinite(ref["mu_fixed"]):
        mu, tau, loglik = ref["mu_fixed"], 0.0, ref["ll_fixed"]
        h = _agq(x, m, mu, 0.0, rule, True)[2]
    if tau < 1e-6:
        tau = 0.0
        se = 1.0 / math.sqrt(-h[0, 0])
        se_tau2 = math.nan
        notes.append(
            "tau^2 estimated at the boundary 0 (the fixed-effect logistic model); "
            "no standard error for tau^2"
        )
    else:
        cov = np.linalg.inv(-h)
        se = math.sqrt(cov[0, 0])
        se_tau2 = 2.0 * tau * math.sqrt(cov[1, 1])
    if common["k"] == 1:
        notes.append("k = 1: heterogeneity cannot be estimated")
    lrt_tau = max(0.0, 2.0 * (loglik - ref["ll_fixed"]))
    return GLMMFit(
        mu=mu,
        se=se,
        tau2=tau * tau,
        loglik=loglik,
        converged=True,
        message="; ".join(notes),
        n_nodes=n_nodes,
        se_tau2=se_tau2,
        lrt_tau=lrt_tau,
        lrt_tau_pvalue=_chi2_sf(lrt_tau, 1),
        iterations=iterations,
        quadrature=quadrature,
        **common,
    )
