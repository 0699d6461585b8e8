# Regenerates tests/reference/metafor_reference.json with metafor (the reference engine).
#
#   Rscript tests/reference/metafor_reference.R            (from the repository root)
#
# Needs R with metafor, metadat and lme4 (Debian: r-cran-metafor, r-cran-metadat, r-cran-lme4).
# Values are written with %.17g so a regeneration on the same versions is byte-identical
# (`git diff --exit-code tests/reference/metafor_reference.json`).
#
# The grid: every dataset x measure x method x ci x pi; see README.md in this folder.
# Iterative estimators are run with tightened convergence (control below) so that the reference
# is the converged solution; metafor's defaults (threshold 1e-5, uniroot tol ~1.2e-4) stop early.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})

out_file <- file.path("tests", "reference", "metafor_reference.json")
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
ci_ctrl <- list(tol = 1e-12)

# ---- data ----------------------------------------------------------------------------------
nw <- dat.nielweise2007
datasets <- list(
  pritz1997 = list(xi = dat.pritz1997$xi, ni = dat.pritz1997$ni,
                   labels = as.character(dat.pritz1997$authors), synthetic = FALSE,
                   source = "metadat::dat.pritz1997 (xi, ni)"),
  nielweise2007_treatment = list(xi = nw$ai, ni = nw$n1i,
                   labels = paste(nw$author, nw$year), synthetic = FALSE,
                   source = "metadat::dat.nielweise2007 (ai, n1i)"),
  nielweise2007_control = list(xi = nw$ci, ni = nw$n2i,
                   labels = paste(nw$author, nw$year), synthetic = FALSE,
                   source = "metadat::dat.nielweise2007 (ci, n2i)"),
  miller1978 = list(xi = c(3, 6, 10, 1), ni = c(11, 17, 21, 6),
                   labels = paste("Miller 1978 study", 1:4), synthetic = FALSE,
                   source = "Miller (1978) Am Stat 32:138; as in metafor's test_analysis_example_miller1978.r"),
  pritz1997_k1 = list(xi = dat.pritz1997$xi[1], ni = dat.pritz1997$ni[1],
                   labels = as.character(dat.pritz1997$authors[1]), synthetic = FALSE,
                   source = "metadat::dat.pritz1997, first study"),
  pritz1997_k2 = list(xi = dat.pritz1997$xi[1:2], ni = dat.pritz1997$ni[1:2],
                   labels = as.character(dat.pritz1997$authors[1:2]), synthetic = FALSE,
                   source = "metadat::dat.pritz1997, first two studies"),
  pritz1997_k3 = list(xi = dat.pritz1997$xi[1:3], ni = dat.pritz1997$ni[1:3],
                   labels = as.character(dat.pritz1997$authors[1:3]), synthetic = FALSE,
                   source = "metadat::dat.pritz1997, first three studies"),
  toy_all_zero = list(xi = c(0, 0, 0), ni = c(10, 20, 30),
                   labels = paste("Synthetic", 1:3), synthetic = TRUE,
                   source = "synthetic toy set: no events in any study"),
  toy_all_event = list(xi = c(10, 20, 30), ni = c(10, 20, 30),
                   labels = paste("Synthetic", 1:3), synthetic = TRUE,
                   source = "synthetic toy set: every participant has the event")
)
measures <- c("PLO", "PAS", "PFT", "PR")
methods <- c("EE", "DL", "REML", "ML", "PM", "SJ", "HE")
tests <- c("z", "knha", "adhoc")
pis <- c("z", "t")

backtransform <- function(x, measure, ni) {
  switch(measure,
         PLO = transf.ilogit(x),
         PAS = transf.iarcsin(x),
         PFT = transf.ipft.hm(x, targs = list(ni = ni)),
         PR = x)
}

# ---- one fit ------------------------------------------------------------------------------
fit_case <- function(d, measure, method, test, pi) {
  es <- escalc(measure = measure, xi = d$xi, ni = d$ni)
  res <- suppressWarnings(rma(yi, vi, data = es, method = method, test = test, control = ctrl))
  k <- res$k
  pred <- predict(res)
  if (method == "EE" || k == 1) {
    # no between-study variance: metafor's prediction interval is the confidence interval
    pi_lb <- pred$ci.lb; pi_ub <- pred$ci.ub; pi_df <- NULL
  } else {
    pi_df <- if (pi == "t") k - 1 else NULL
    crit <- if (pi == "t") qt(0.975, df = k - 1) else qnorm(0.975)
    half <- crit * sqrt(res$se^2 + res$tau2)
    pi_lb <- c(res$beta) - half; pi_ub <- c(res$beta) + half
    # where metafor's predict() uses the same quantile, the formula must reproduce it
    if ((test == "z" && pi == "z") || (test == "knha" && pi == "t"))
      stopifnot(isTRUE(all.equal(c(pi_lb, pi_ub), c(pred$pi.lb, pred$pi.ub), tolerance = 1e-12)))
  }
  bt <- backtransform(c(c(res$beta), res$ci.lb, res$ci.ub, pi_lb, pi_ub), measure, d$ni)
  list(k = k, beta = c(res$beta), se = res$se, zval = res$zval, pval = res$pval,
       ci_lb = res$ci.lb, ci_ub = res$ci.ub, pi_lb = pi_lb, pi_ub = pi_ub,
       tau2 = res$tau2, QE = res$QE, QEp = res$QEp, I2 = res$I2, H2 = res$H2,
       weights = as.list(unname(weights(res))),
       test_used = res$test,
       pred = bt[1], pred_ci_lb = bt[2], pred_ci_ub = bt[3], pred_pi_lb = bt[4], pred_pi_ub = bt[5])
}

qprofile <- function(d, measure, method) {
  es <- escalc(measure = measure, xi = d$xi, ni = d$ni)
  res <- suppressWarnings(rma(yi, vi, data = es, method = method, control = ctrl))
  ci <- confint(res, control = ci_ctrl)$random
  list(tau2 = res$tau2, tau2_lb = ci["tau^2", "ci.lb"], tau2_ub = ci["tau^2", "ci.ub"])
}

glmm_case <- function(d) {
  res <- try(suppressWarnings(rma.glmm(measure = "PLO", xi = d$xi, ni = d$ni)), silent = TRUE)
  if (inherits(res, "try-error"))
    return(list(error = gsub("\\s+", " ", trimws(as.character(res)))))
  pred <- predict(res)
  list(k = res$k, beta = c(res$beta), se = res$se, ci_lb = res$ci.lb, ci_ub = res$ci.ub,
       tau2 = res$tau2, QE_Wld = res$QE.Wld, QEp_Wld = res$QEp.Wld, QE_LRT = res$QE.LRT,
       QEp_LRT = res$QEp.LRT, I2 = res$I2, H2 = res$H2, pi_lb = pred$pi.lb, pi_ub = pred$pi.ub,
       loglik = c(logLik(res)))
}

# ---- grid ----------------------------------------------------------------------------------
cases <- list()
for (dn in names(datasets)) for (m in measures) for (me in methods) for (te in tests) for (p in pis) {
  id <- paste(dn, m, me, te, p, sep = "-")
  cases[[id]] <- c(list(dataset = dn, measure = m, method = me, ci = te, pi = p),
                   fit_case(datasets[[dn]], m, me, te, p))
}
qp <- list()
for (dn in names(datasets)) {
  if (length(datasets[[dn]]$xi) < 2) next
  for (m in measures) for (me in setdiff(methods, "EE")) {
    qp[[paste(dn, m, me, sep = "-")]] <- c(list(dataset = dn, measure = m, method = me),
                                           qprofile(datasets[[dn]], m, me))
  }
}
escalcs <- list(); cp <- list(); glmm <- list()
for (dn in names(datasets)) {
  d <- datasets[[dn]]
  escalcs[[dn]] <- lapply(setNames(measures, measures), function(m) {
    es <- escalc(measure = m, xi = d$xi, ni = d$ni)
    list(yi = as.list(c(es$yi)), vi = as.list(c(es$vi)))
  })
  ints <- t(mapply(function(x, n) binom.test(x, n)$conf.int, d$xi, d$ni))
  cp[[dn]] <- list(lower = as.list(ints[, 1]), upper = as.list(ints[, 2]))
  if (length(d$xi) >= 2) glmm[[dn]] <- glmm_case(d)
}

ds_out <- lapply(datasets, function(d) list(xi = as.list(d$xi), ni = as.list(d$ni),
                                            labels = as.list(d$labels),
                                            synthetic = d$synthetic, source = d$source))
ref <- list(
  source = list(
    script = "tests/reference/metafor_reference.R",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    lme4 = as.character(packageVersion("lme4")),
    calls = list(
      escalc = "escalc(measure=MEASURE, xi=xi, ni=ni)  # defaults add=1/2, to='only0' (add=0 for PAS/PFT)",
      rma = "rma(yi, vi, data=es, method=METHOD, test=TEST, control=list(threshold=1e-12, tol=1e-12, maxiter=10000))",
      prediction_interval = "EE or k = 1: predict(res)$ci.lb/ci.ub; else beta -/+ q * sqrt(se^2 + tau2), q = qt(0.975, k-1) for pi='t', qnorm(0.975) for pi='z' (checked equal to predict(res) where metafor uses the same quantile)",
      backtransform = "PLO transf.ilogit; PAS transf.iarcsin; PFT transf.ipft.hm(x, targs=list(ni=ni)); PR none",
      qprofile = "confint(rma(yi, vi, method=METHOD, control=...), control=list(tol=1e-12))$random['tau^2', ]",
      clopper_pearson = "binom.test(x, n)$conf.int",
      glmm = "rma.glmm(measure='PLO', xi=xi, ni=ni)  # lme4, default control; predict(res) for the z PI"
    )
  ),
  grid = list(datasets = as.list(names(datasets)), measures = as.list(measures),
              methods = as.list(methods), ci = as.list(tests), pi = as.list(pis)),
  datasets = ds_out,
  escalc = escalcs,
  cases = unname(mapply(function(id, x) c(list(id = id), x), names(cases), cases, SIMPLIFY = FALSE)),
  qprofile = unname(mapply(function(id, x) c(list(id = id), x), names(qp), qp, SIMPLIFY = FALSE)),
  clopper_pearson = cp,
  glmm = glmm
)

# ---- a small JSON writer with %.17g numbers (NaN/Infinity as Python's json reads them) ------------------------------------------------
json_str <- function(s) paste0('"', gsub('"', '\\\\"', gsub("\\\\", "\\\\\\\\", s)), '"')
to_json <- function(x, indent = 0) {
  pad <- strrep(" ", indent + 1)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, "", indent = indent + 1)
    if (is.null(names(x)))
      return(paste0("[", paste(items, collapse = ", "), "]"))
    body <- paste0(pad, json_str(names(x)), ": ", items, collapse = ",\n")
    return(paste0("{\n", body, "\n", strrep(" ", indent), "}"))
  }
  stopifnot(length(x) == 1)
  if (is.character(x)) return(json_str(x))
  if (is.logical(x)) return(if (is.na(x)) "null" else tolower(as.character(x)))
  if (is.nan(x)) return("NaN")  # tokens Python's json module reads (zval when se = 0)
  if (is.na(x)) return("null")
  if (is.infinite(x)) return(if (x > 0) "Infinity" else "-Infinity")
  sprintf("%.17g", x)
}
writeLines(to_json(ref), out_file)
cat("wrote", out_file, "with", length(cases), "cases\n")
