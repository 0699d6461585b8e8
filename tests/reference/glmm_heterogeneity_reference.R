#!/usr/bin/env Rscript
# Regenerates tests/reference/glmm_heterogeneity_reference.json: the heterogeneity of the binomial-normal
# GLMM as one model reports it.
#  * metafor rma.glmm(measure = "PLO", method = "ML"): tau^2, I^2, and the two tests for heterogeneity it
#    prints, the likelihood-ratio test (QE.LRT: saturated vs fixed-effect logistic model, k - 1 df) and the
#    Wald-type test (QE.Wld), which gives a study with 0 or n events no weight.
#  * the profile-likelihood 95% CI of tau^2, by brute force in base R (metafor has no interval for
#    rma.glmm): each study's likelihood integrated numerically (integrate, rel.tol 1e-12), maximised over the
#    mean logit (optimize), and the bounds found where the profile falls chi-square(1; 0.95) / 2 below its
#    maximum (uniroot). Independent of the engine's adaptive Gauss-Hermite quadrature and Newton steps.
#
# Run from the repository root:  Rscript tests/reference/glmm_heterogeneity_reference.R [output.json]
# Needs R with metafor, metadat, lme4 and jsonlite. Values are written with 10 significant digits.
suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})
data("dat.pritz1997", package = "metadat")

cases <- list(
  pritz1997 = list(xi = dat.pritz1997$xi, ni = dat.pritz1997$ni, source = "metadat::dat.pritz1997, 14 studies"),
  pritz1997_first3 = list(xi = dat.pritz1997$xi[1:3], ni = dat.pritz1997$ni[1:3],
                          source = "metadat::dat.pritz1997, studies 1-3"),
  meta_toy_decreasing = list(xi = 4:1, ni = 10 * 1:4, source = "meta documentation: metaprop(4:1, 10*1:4)"),
  # SYNTHETIC counts shaped like a few single-arm series near 100 %, one of them n/n
  synthetic_k3_one_all_events = list(xi = c(12, 25, 4), ni = c(12, 30, 5), source = "SYNTHETIC"),
  synthetic_k3_heterogeneous = list(xi = c(12, 30, 9), ni = c(12, 40, 11), source = "SYNTHETIC"),
  synthetic_k5_one_all_events = list(xi = c(20, 18, 30, 11, 7), ni = c(20, 22, 41, 15, 12), source = "SYNTHETIC")
)

study_loglik <- function(mu, tau, x, n) {
  if (tau == 0) return(dbinom(x, n, plogis(mu), log = TRUE))
  f <- function(z) dbinom(x, n, plogis(mu + tau * z)) * dnorm(z)
  log(integrate(f, -12, 12, rel.tol = 1e-12, abs.tol = 0, subdivisions = 2000L)$value)
}
loglik <- function(mu, tau2, xi, ni) sum(mapply(study_loglik, mu, sqrt(tau2), xi, ni))
profile <- function(tau2, xi, ni) {
  -optimize(function(mu) -loglik(mu, tau2, xi, ni), c(-15, 15), tol = 1e-10)$objective
}

profile_ci <- function(xi, ni, level = 0.95) {
  best <- optimize(function(t2) -profile(t2, xi, ni), c(0, 25), tol = 1e-10)
  t2hat <- best$minimum; lmax <- max(-best$objective, profile(0, xi, ni))
  if (profile(0, xi, ni) >= -best$objective) t2hat <- 0
  drop <- qchisq(level, 1) / 2
  gap <- function(t2) lmax - profile(t2, xi, ni) - drop
  lower <- if (gap(0) <= 0) 0 else uniroot(gap, c(0, t2hat), tol = 1e-10)$root
  high <- max(2 * t2hat, 0.05)
  while (gap(high) < 0) high <- 4 * high
  upper <- uniroot(gap, c(t2hat, high), tol = 1e-10)$root
  list(tau2_ml = t2hat, loglik = lmax, lower = lower, upper = upper, level = level)
}

fit_case <- function(cs) {
  res <- rma.glmm(measure = "PLO", xi = cs$xi, ni = cs$ni, method = "ML")
  list(xi = cs$xi, ni = cs$ni, source = cs$source, k = res$k,
       metafor = list(tau2 = res$tau2, I2 = res$I2, QE_LRT = res$QE.LRT, QEp_LRT = res$QEp.LRT,
                      QE_Wld = res$QE.Wld, QEp_Wld = res$QEp.Wld),
       profile = profile_ci(cs$xi, cs$ni))
}

ref <- list(
  source = list(
    generator = "tests/reference/glmm_heterogeneity_reference.R",
    call = 'rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML"); brute-force profile likelihood of tau^2',
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    lme4 = as.character(packageVersion("lme4"))
  ),
  cases = lapply(cases, fit_case)
)
args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args) > 0) args[1] else file.path("tests", "reference", "glmm_heterogeneity_reference.json")
writeLines(toJSON(ref, auto_unbox = TRUE, digits = 10, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
