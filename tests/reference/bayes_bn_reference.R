#!/usr/bin/env Rscript
# Regenerates tests/reference/bayes_bn_reference.json: posterior summaries of the Bayesian
# binomial-normal model (x_i ~ Bin(n_i, expit(theta_i)), theta_i ~ N(mu, tau^2),
# mu ~ Logistic(0, 1) (the engine's default: uniform on the proportion scale) or N(0, sd^2),
# tau ~ half-normal(scale)) by brute-force numerical integration in base R,
# independent of the engine's scheme (analysis/engine/bayes_bn.py: adaptive Gauss-Hermite per
# study, 21 x 21 grid, splines):
#   * each study's marginal likelihood L_i(mu, tau) by the trapezoid rule over theta on a dense
#     grid (spacing 0.01 over [-25, 25]; the smallest tau > 0 is 0.01) as a matrix product with the normal kernel;
#   * the joint posterior on a dense (mu, tau) grid (401 x 161 points, tau up to 8 x scale),
#     marginal distributions by the trapezoid rule, quantiles by linear interpolation.
#
# Run from the repository root:  Rscript tests/reference/bayes_bn_reference.R [output.json]
# Needs base R and jsonlite. Values written with 10 significant digits.
suppressPackageStartupMessages(library(jsonlite))
theta <- seq(-25, 25, by = 0.01)
h <- 0.01

log_prior_mu <- function(mu, prior, sd) {
  if (prior == "logistic") dlogis(mu, 0, 1, log = TRUE) else dnorm(mu, 0, sd, log = TRUE)
}

summarise <- function(x, n, scale, lo, hi, prior = "logistic", sd = 1) {
  f <- sapply(seq_along(x), function(i) dbinom(x[i], n[i], plogis(theta)))  # length(theta) x k
  mu <- seq(lo, hi, length.out = 401)
  tau <- seq(0, 8 * scale, length.out = 161)
  logpost <- matrix(0, length(mu), length(tau))
  for (j in seq_along(tau)) {
    if (tau[j] == 0) {
      li <- sapply(seq_along(x), function(i) dbinom(x[i], n[i], plogis(mu)))
    } else {
      kern <- outer(mu, theta, function(m, t) dnorm(t, m, tau[j])) * h
      li <- kern %*% f
    }
    logpost[, j] <- rowSums(log(li)) + log_prior_mu(mu, prior, sd) +
      dnorm(tau[j], 0, scale, log = TRUE)
  }
  post <- exp(logpost - max(logpost))
  trap <- function(v) { d <- diff(v); c(d / 2, 0) + c(0, d / 2) }
  dmu <- as.vector(post %*% trap(tau))
  dtau <- as.vector(trap(mu) %*% post)
  quant <- function(g, d, p) {
    cdf <- c(0, cumsum((d[-1] + d[-length(d)]) / 2 * diff(g))); cdf <- cdf / cdf[length(cdf)]
    approx(cdf, g, xout = p, ties = "ordered")$y
  }
  qm <- quant(mu, dmu, c(0.025, 0.5, 0.975)); qt <- quant(tau, dtau, c(0.025, 0.5, 0.975))
  stopifnot(dmu[1] < 1e-7 * max(dmu), dmu[length(dmu)] < 1e-7 * max(dmu))
  list(events = x, n = n, tau_scale = scale, mu_prior = prior, mu_scale = sd,
       mu_lower = qm[1], mu_median = qm[2], mu_upper = qm[3],
       tau_lower = qt[1], tau_median = qt[2], tau_upper = qt[3])
}

cases <- list(
  list(x = c(12, 26, 5), n = c(12, 31, 5), scale = 0.5, lo = -5, hi = 11, prior = "normal", sd = 2.82),
  list(x = c(12, 26, 5), n = c(12, 31, 5), scale = 1.0, lo = -8, hi = 16, prior = "normal", sd = 2.82),
  list(x = c(0, 0), n = c(10, 20), scale = 1.0, lo = -20, hi = 16, prior = "normal", sd = 2.82),
  list(x = c(45, 20, 9, 30, 2), n = c(50, 20, 12, 41, 2), scale = 1.0, lo = -8, hi = 14, prior = "normal", sd = 2.82),
  list(x = c(12, 26, 5), n = c(12, 31, 5), scale = 0.5, lo = -5, hi = 14, prior = "logistic", sd = 1),
  list(x = c(12, 26, 5), n = c(12, 31, 5), scale = 1.0, lo = -8, hi = 18, prior = "logistic", sd = 1),
  list(x = c(12, 26, 5), n = c(12, 31, 5), scale = 1.0, lo = -6, hi = 12, prior = "normal", sd = 1.5),
  list(x = c(10, 10, 10), n = c(10, 10, 10), scale = 0.5, lo = -6, hi = 40, prior = "logistic", sd = 1),
  list(x = c(0, 5, 0, 6), n = c(5, 5, 8, 6), scale = 1.0, lo = -14, hi = 14, prior = "logistic", sd = 1),
  list(x = c(45, 20, 9, 30, 2), n = c(50, 20, 12, 41, 2), scale = 1.0, lo = -6, hi = 14, prior = "logistic", sd = 1)
)
out <- lapply(cases, function(cs) {
  r <- summarise(cs$x, cs$n, cs$scale, cs$lo, cs$hi, cs$prior, cs$sd)
  message(toJSON(r, auto_unbox = TRUE)); r
})
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args)) args[1] else "tests/reference/bayes_bn_reference.json"
writeLines(toJSON(list(source = list(R = R.version.string,
                                     method = "dense-grid trapezoid integration in base R"),
                       cases = out), auto_unbox = TRUE, digits = 10, pretty = TRUE), path)
