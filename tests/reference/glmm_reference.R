#!/usr/bin/env Rscript
# Regenerates tests/reference/glmm_reference.json: metafor rma.glmm(measure = "PLO") fits
# (binomial-normal random-intercept logistic model, lme4 backend, metafor's default nAGQ = 7)
# on the single-arm data sets used by tests/engine/test_glmm.py.
#
# Run from the repository root:  Rscript tests/reference/glmm_reference.R [output.json]
# (default output: tests/reference/glmm_reference.json)
# Needs R with metafor, metadat, lme4 and jsonlite. Values are written with 17 significant
# digits so that regenerating with the same versions leaves `git diff` clean.
suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

data("dat.pritz1997", package = "metadat")
data("dat.nielweise2007", package = "metadat")

cases <- list(
  pritz1997 = list(xi = dat.pritz1997$xi, ni = dat.pritz1997$ni,
                   source = "metadat::dat.pritz1997 (xi/ni), 14 studies"),
  pritz1997_first3 = list(xi = dat.pritz1997$xi[1:3], ni = dat.pritz1997$ni[1:3],
                          source = "metadat::dat.pritz1997, studies 1-3"),
  pritz1997_first2 = list(xi = dat.pritz1997$xi[1:2], ni = dat.pritz1997$ni[1:2],
                          source = "metadat::dat.pritz1997, studies 1-2"),
  nielweise2007_control = list(xi = dat.nielweise2007$ci, ni = dat.nielweise2007$n2i,
                               source = "metadat::dat.nielweise2007, control arm (ci/n2i)"),
  nielweise2007_treatment = list(xi = dat.nielweise2007$ai, ni = dat.nielweise2007$n1i,
                                 source = "metadat::dat.nielweise2007, treatment arm (ai/n1i)"),
  meta_toy_decreasing = list(xi = 4:1, ni = 10 * 1:4,
                             source = "meta documentation / meta issue 57: metaprop(4:1, 10*1:4)"),
  meta_toy_zeros = list(xi = c(0, 0, 10, 10), ni = rep(100, 4),
                        source = "meta documentation: metaprop(c(0,0,10,10), rep(100,4))")
)

num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NULL else unname(as.numeric(x))

fit_case <- function(cs) {
  out <- list(xi = cs$xi, ni = cs$ni, source = cs$source)
  res <- tryCatch(
    withCallingHandlers(
      rma.glmm(measure = "PLO", xi = cs$xi, ni = cs$ni, method = "ML"),
      warning = function(w) {
        out$warnings <<- c(out$warnings, conditionMessage(w))
        invokeRestart("muffleWarning")
      }),
    error = function(e) e)
  if (inherits(res, "error")) {
    out$error <- conditionMessage(res)
    return(out)
  }
  out$beta <- num(coef(res))
  out$se <- num(res$se)
  out$tau2 <- num(res$tau2)
  out$ci_lb <- num(res$ci.lb)
  out$ci_ub <- num(res$ci.ub)
  out$loglik <- num(logLik(res))
  out$QE_LRT <- num(res$QE.LRT)
  out$QE_LRTp <- num(res$QEp.LRT)
  out$QE_Wld <- num(res$QE.Wld)
  out$QE_Wldp <- num(res$QEp.Wld)
  out$k <- res$k
  out
}

ref <- list(
  source = list(
    generator = "tests/reference/glmm_reference.R",
    call = 'rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML")  # nAGQ = 7 (default)',
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    lme4 = as.character(packageVersion("lme4")),
    Matrix = as.character(packageVersion("Matrix"))
  ),
  cases = lapply(cases, fit_case)
)

args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args) > 0) args[1] else file.path("tests", "reference", "glmm_reference.json")
writeLines(toJSON(ref, auto_unbox = TRUE, digits = I(17), pretty = TRUE, null = "null"), out_file)
cat("wrote", out_file, "\n")
