"""Best exponential sums on [0, ∞): quadrature, variable projection, stability test."""

import numpy as np
import pytest
from scipy.special import exp1

from dynml.sequence import (
    HalfLineQuadrature,
    decay_fits,
    exp_sum_kernel,
    fit_exp_sum,
    fit_exp_sums,
    perturbed_error,
)
from dynml.systems import memory as M

QUAD = HalfLineQuadrature()


@pytest.mark.parametrize("rate", [1e-10, 1e-4, 0.3, 7.0, 300.0])
def test_quadrature_integrates_exponentials_on_the_half_line(rate):
    """∫_0^∞ e^{-2λt} dt = 1/(2λ) for rates over 12 decades."""
    assert abs(QUAD.integrate(np.exp(-2 * rate * QUAD.t)) * 2 * rate - 1) < 1e-13


@pytest.mark.parametrize("omega", [0.1, 0.5, 1.0])
def test_power_law_energy_with_analytic_tail(omega):
    """∫_0^∞ (1+t)^{-2(1+ω)} dt = 1/(1+2ω): quadrature plus the closed-form tail."""
    name = f"power-{omega:g}"
    body = QUAD.integrate(M.kernel_by_name(name)(QUAD.t) ** 2)
    tail = M.tail_energy(name, QUAD.t_max)
    assert abs(body + tail - 1 / (1 + 2 * omega)) < 1e-13
    # the tail term is what the quadrature misses: a short quadrature needs it
    short = HalfLineQuadrature(s_max=3.0)
    body = short.integrate(M.kernel_by_name(name)(short.t) ** 2)
    assert abs(body - 1 / (1 + 2 * omega)) > 1e-5
    assert abs(body + M.tail_energy(name, short.t_max) - 1 / (1 + 2 * omega)) < 1e-12


def test_exprational_energy_closed_form():
    """∫_0^∞ e^{-t}/(1+t)² dt = 1 - e E₁(1) (integration by parts)."""
    body = QUAD.integrate(M.kernel_by_name("exprational")(QUAD.t) ** 2)
    assert abs(body - (1 - np.e * exp1(1.0))) < 1e-14


def test_one_exponential_is_fitted_exactly_by_width_one():
    fit = fit_exp_sum(lambda t: 2.5 * np.exp(-0.7 * t), 1)
    assert fit.rel_error < 1e-13
    np.testing.assert_allclose(fit.rates, [0.7], rtol=1e-10)
    np.testing.assert_allclose(fit.weights, [2.5], rtol=1e-10)


def test_variable_projection_recovers_a_sum_of_exponentials():
    rates, weights = np.array([0.05, 0.4, 3.0]), np.array([1.0, -2.0, 0.5])
    fit = fit_exp_sum(lambda t: exp_sum_kernel(rates, weights, t), 3)
    assert fit.rel_error < 1e-10
    np.testing.assert_allclose(fit.rates, rates, rtol=1e-6)
    np.testing.assert_allclose(fit.weights, weights, rtol=1e-5)
    assert fit.history[-1] <= fit.history[0]


def test_power_law_needs_small_rates_and_exponential_memory_does_not():
    """The curse of memory in miniature: m = 2 → 6 for (1+t)^{-1.5} and e^{-t/2}/(1+t)."""
    widths = (2, 6)
    power = fit_exp_sums(
        M.power_law(0.5), widths, tail_energy=M.tail_energy("power-0.5", QUAD.t_max)
    )
    expo = fit_exp_sums(M.kernel_by_name("exprational"), widths)
    assert power[1].rates.min() < 0.1 * power[0].rates.min()
    assert expo[1].rates.min() > 0.5 * 0.9  # its decay rate is 1/2
    drop_power = power[0].rel_error / power[1].rel_error
    drop_exp = expo[0].rel_error / expo[1].rel_error
    assert drop_exp > 30 * drop_power


def test_width_one_fit_is_the_analytic_optimum_for_a_power_law():
    """For m = 1, c = L(λ)·2λ and err² = E - 2λ L(λ)², L the Laplace transform of (1+t)^{-2}:
    L(λ) = 1 - λ e^λ E₁(λ). The optimum over λ on a fine grid matches variable projection."""
    lam = np.geomspace(0.05, 20, 20001)
    laplace = 1 - lam * np.exp(lam) * exp1(lam)
    err2 = 1 / 3 - 2 * lam * laplace**2
    fit = fit_exp_sum(M.power_law(1.0), 1, tail_energy=M.tail_energy("power-1", QUAD.t_max))
    np.testing.assert_allclose(fit.rel_error, np.sqrt(err2.min() * 3), rtol=1e-6)
    np.testing.assert_allclose(fit.rates[0], lam[np.argmin(err2)], rtol=1e-3)


def test_perturbation_blows_up_once_a_rate_crosses_zero():
    fit = fit_exp_sum(lambda t: np.exp(-0.7 * t), 1)
    assert perturbed_error(fit, lambda t: np.exp(-0.7 * t), 0.0) < 1e-13
    small = perturbed_error(fit, lambda t: np.exp(-0.7 * t), 0.01)
    # ‖e^{-0.69t} - e^{-0.7t}‖/‖e^{-0.7t}‖ in closed form
    a, b = 0.69, 0.7
    exact = np.sqrt((1 / (2 * a) - 2 / (a + b) + 1 / (2 * b)) * 2 * b)
    np.testing.assert_allclose(small, exact, rtol=1e-8)
    assert perturbed_error(fit, lambda t: np.exp(-0.7 * t), 0.7) == np.inf


def test_decay_fits_read_exponential_and_algebraic_rates():
    m = np.array([1, 2, 4, 8, 16])
    f = decay_fits(m, np.exp(-0.9 * m))
    assert abs(f["exp_rate"] - 0.9) < 1e-12 and f["exp_r2"] > 1 - 1e-12
    g = decay_fits(m, m**-2.0)
    assert abs(g["alg_order"] - 2.0) < 1e-12 and g["alg_r2"] > 1 - 1e-12
