"""Gauss-Hermite and Gauss-Legendre rules (analysis.engine.quadrature): exactness on polynomials."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.engine.quadrature import MAX_NODES, gauss_hermite, gauss_legendre, normal_expectation


@pytest.mark.parametrize("n", [1, 2, 5, 11, 21, 45])
def test_hermite_exact_for_polynomials_up_to_degree_2n_minus_1(n: int) -> None:
    # int exp(-t^2) t^(2m) dt = Gamma(m + 1/2); odd moments vanish.
    t, logw = gauss_hermite(n)
    w = np.exp(logw - t**2)
    for degree in range(2 * n):
        got = float(np.sum(w * t**degree))
        want = 0.0 if degree % 2 else math.gamma(degree / 2 + 0.5)
        assert got == pytest.approx(want, rel=1e-11, abs=1e-11 * math.gamma(degree / 2 + 0.5))


def test_hermite_log_weights_include_the_gaussian_factor() -> None:
    # sum_j w_j exp(t_j^2) h(t_j) approximates int h(t) dt, very accurately for a
    # near-Gaussian h: int exp(-(t - 0.3)^2) dt = sqrt(pi)
    t, logw = gauss_hermite(21)
    got = float(np.sum(np.exp(logw - (t - 0.3) ** 2)))
    assert got == pytest.approx(math.sqrt(math.pi), rel=1e-12)


@pytest.mark.parametrize("n", [1, 3, 8, 20])
def test_legendre_exact_for_polynomials(n: int) -> None:
    x, w = gauss_legendre(n)
    for degree in range(2 * n):
        want = 0.0 if degree % 2 else 2.0 / (degree + 1)
        assert float(np.sum(w * x**degree)) == pytest.approx(want, rel=1e-12, abs=1e-13)


def test_normal_expectation_lognormal_mean() -> None:
    # E[exp(X)] = exp(m + s^2 / 2) for X ~ N(m, s^2)
    got = normal_expectation(np.exp, 0.4, 0.7, n=40)
    assert got == pytest.approx(math.exp(0.4 + 0.49 / 2), rel=1e-13)


def test_rules_are_cached_and_read_only() -> None:
    assert gauss_hermite(15) is gauss_hermite(15)
    t, _ = gauss_hermite(15)
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 1.0


@pytest.mark.parametrize("bad", [0, -3, MAX_NODES + 1, 2.5, True])
def test_invalid_sizes_raise(bad: object) -> None:
    with pytest.raises(ValueError, match="number of quadrature nodes"):
        gauss_hermite(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="number of quadrature nodes"):
        gauss_legendre(bad)  # type: ignore[arg-type]


def test_normal_expectation_rejects_negative_sd() -> None:
    with pytest.raises(ValueError, match="sd"):
        normal_expectation(np.exp, 0.0, -1.0)
