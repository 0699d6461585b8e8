"""Gauss quadrature rules shared by the GLMM and the Bayesian model.

Two rules, cached by size:

* Gauss-Hermite, for integrals against a normal density. The adaptive form used by
  :mod:`analysis.engine.glmm` centres the nodes at the mode of each integrand and scales them by its
  curvature (Pinheiro and Bates 1995, key ``pinheiro1995``).
* Gauss-Legendre, for integrals over a finite interval, used panel by panel by
  :mod:`analysis.engine.bayes`.

Pure functions, no I/O.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite import hermgauss
from numpy.polynomial.legendre import leggauss

__all__ = ["gauss_hermite", "gauss_legendre", "normal_expectation"]

#: Largest rule offered; beyond this the Golub-Welsch weights of numpy lose accuracy.
MAX_NODES = 150


def _check_size(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 or n > MAX_NODES:
        msg = f"number of quadrature nodes must be an integer in [1, {MAX_NODES}], got {n!r}"
        raise ValueError(msg)


@lru_cache(maxsize=64)
def _hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = hermgauss(n)
    t.setflags(write=False)
    logw = np.log(w) + t**2
    logw.setflags(write=False)
    return t, logw


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and log weights of the ``n``-point Gauss-Hermite rule, in adaptive form.

    The physicists' rule integrates :math:`\int e^{-t^2} f(t)\,dt \approx \sum_j w_j f(t_j)`.
    For adaptive quadrature one needs :math:`\int h(t)\,dt \approx \sum_j w_j e^{t_j^2}
    h(t_j)`, so the second array holds :math:`\log w_j + t_j^2` (log scale, safe for large n).

    Parameters
    ----------
    n : int
        Number of nodes, 1 to ``MAX_NODES``. The rule is exact for ``f`` a polynomial of
        degree up to ``2n - 1``.

    Returns
    -------
    nodes : numpy.ndarray of shape (n,)
        The nodes :math:`t_j` (read-only, cached).
    log_weights : numpy.ndarray of shape (n,)
        :math:`\log w_j + t_j^2` (read-only, cached).

    References
    ----------
    ``pinheiro1995``: Pinheiro JC, Bates DM (1995). Approximations to the log-likelihood
    function in the nonlinear mixed-effects model. J Comput Graph Stat 4(1):12-35.
    """
    _check_size(n)
    return _hermite(int(n))


@lru_cache(maxsize=16)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = leggauss(n)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of the ``n``-point Gauss-Legendre rule on :math:`[-1, 1]`.

    :math:`\int_{-1}^{1} f(x)\,dx \approx \sum_j w_j f(x_j)`, exact for polynomials of degree
    up to ``2n - 1``.

    Parameters
    ----------
    n : int
        Number of nodes, 1 to ``MAX_NODES``.

    Returns
    -------
    nodes, weights : numpy.ndarray of shape (n,)
        Read-only cached arrays.
    """
    _check_size(n)
    return _legendre(int(n))


def normal_expectation(f, mean: float, sd: float, n: int = 40) -> float:
    r"""Non-adaptive Gauss-Hermite approximation of :math:`E[f(X)]`, :math:`X \sim N(m, s^2)`.

    :math:`E[f(X)] = \pi^{-1/2} \sum_j w_j f(m + \sqrt{2}\,s\,t_j)`. A small helper for checks
    and tests; the GLMM uses the adaptive form.

    Parameters
    ----------
    f : callable
        Vectorised function of one array argument.
    mean, sd : float
        Mean and standard deviation of the normal distribution (``sd >= 0``).
    n : int, optional
        Number of nodes. Default = 40.

    Returns
    -------
    float
    """
    if not (np.isfinite(mean) and np.isfinite(sd) and sd >= 0):
        msg = f"mean must be finite and sd finite and >= 0, got mean={mean!r}, sd={sd!r}"
        raise ValueError(msg)
    t, logw = gauss_hermite(n)
    w = np.exp(logw - t**2)
    return float(np.sum(w * f(mean + np.sqrt(2.0) * sd * t)) / np.sqrt(np.pi))
