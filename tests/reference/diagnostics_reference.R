# Regenerates tests/reference/diagnostics_reference.json: metafor reference values for the
# analyses on a fit (leave-one-out, cumulative, influence, Egger-type regression test,
# meta-regression, subgroups) used by tests/test_{sensitivity,influence,bias,metareg,subgroups}.py.
#
# Run from the repository root:
#   Rscript tests/reference/diagnostics_reference.R [output.json]
# (default output: tests/reference/diagnostics_reference.json)
# Needs R with metafor (Debian r-cran-metafor 3.8-1) and metadat (r-cran-metadat) and jsonlite.
# Every number is written with sprintf("%.17g"), so a rerun with the same versions leaves
# `git diff --exit-code tests/reference/diagnostics_reference.json` clean.
#
# Data: metadat's dat.pritz1997 (14 single-arm studies, two with 100 % events) and
# dat.debruin2009 (13 single-arm studies with a real moderator, the standard-care quality
# score `scq`, and real study-level factors `ethnicity` and `patients`).
# The study index used as a moderator for dat.pritz1997 and the split of dat.pritz1997 into
# studies 1-7 / 8-14 are SYNTHETIC (labelled so in the JSON).

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[1] else "tests/reference/diagnostics_reference.json"

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

# Tight convergence so that metafor's iterative estimators are not the limiting precision
# (defaults: threshold 1e-5 for Fisher scoring, tol ~1.2e-4 for the PM root finder).
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
methods <- c("EE", "DL", "REML", "ML", "PM", "SJ", "HE")
tests <- c("z", "knha")

# ---- minimal JSON writer with full precision ---------------------------------------------
num <- function(x) {
  if (length(x) != 1) stop("num() takes one value")
  if (is.na(x)) return("null")
  if (is.logical(x)) return(if (x) "true" else "false")
  if (is.infinite(x)) stop("infinite value")
  sprintf("%.17g", x)
}
to_json <- function(x, indent = 0) {
  pad <- strrep(" ", indent + 2)
  end <- strrep(" ", indent)
  if (inherits(x, "jarray")) {
    x <- unclass(x)
    if (is.character(x)) return(paste0("[", paste(vapply(x, function(s) toJSON(s, auto_unbox = TRUE), ""), collapse = ", "), "]"))
    return(paste0("[", paste(vapply(x, num, ""), collapse = ", "), "]"))
  }
  if (is.list(x)) {
    if (is.null(names(x))) {
      items <- vapply(x, to_json, "", indent = indent + 2)
      return(paste0("[\n", paste0(pad, items, collapse = ",\n"), "\n", end, "]"))
    }
    items <- vapply(names(x), function(n) paste0(toJSON(n, auto_unbox = TRUE), ": ", to_json(x[[n]], indent + 2)), "")
    return(paste0("{\n", paste0(pad, items, collapse = ",\n"), "\n", end, "}"))
  }
  if (is.character(x)) {
    if (length(x) != 1) stop("character vectors must be wrapped in arr()")
    return(toJSON(x, auto_unbox = TRUE))
  }
  if (length(x) != 1) stop("numeric vectors must be wrapped in arr()")
  num(x)
}
arr <- function(x) structure(x, class = "jarray")

# ---- data ---------------------------------------------------------------------------------
pritz <- dat.pritz1997
pritz$label <- paste0(pritz$study, ". ", pritz$authors)
pritz$index <- seq_len(nrow(pritz))                       # SYNTHETIC moderator
pritz$half <- ifelse(pritz$index <= 7, "A", "B")          # SYNTHETIC split
deb <- dat.debruin2009
deb$label <- paste(deb$author, deb$year)

datasets <- list(pritz1997 = pritz, debruin2009 = deb)
es <- lapply(datasets, function(d) escalc(measure = "PLO", xi = xi, ni = ni, data = d))

# Two expected metafor warnings are muffled (and only these): test = "knha" with an EE model,
# and test = "knha" falling back to "z" for a single study (first cumulative step).
expected <- "Knapp & Hartung method is not meant|Setting argument test=\"z\" since k=1"
quiet <- function(expr) withCallingHandlers(expr, warning = function(w) {
  if (grepl(expected, conditionMessage(w))) invokeRestart("muffleWarning")
})
fit <- function(d, method, test, ...) {
  quiet(rma(yi, vi, data = d, method = method, test = test, control = ctrl, ...))
}
pis <- function(res) {
  # prediction interval with t(k - 1) (our default, metafor pi.type = "t") and with z
  pt <- predict(res, pi.type = "t")
  pz <- predict(res)
  list(pi_lb = pt$pi.lb, pi_ub = pt$pi.ub, pi_lb_z = pz$pi.lb, pi_ub_z = pz$pi.ub)
}

# ---- leave-one-out and cumulative --------------------------------------------------------
subset_fits <- function(d, method, test, subsets) {
  cols <- c("estimate", "se", "pval", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "pi_lb_z",
            "pi_ub_z", "tau2", "I2", "H2", "QE", "QEp", "k")
  out <- setNames(lapply(cols, function(c) numeric(0)), cols)
  for (s in subsets) {
    r <- fit(d[s, ], method, test)
    p <- if (r$k > 1) pis(r) else list(pi_lb = NA, pi_ub = NA, pi_lb_z = NA, pi_ub_z = NA)
    vals <- c(estimate = r$b[1], se = r$se, pval = r$pval, ci_lb = r$ci.lb, ci_ub = r$ci.ub,
              pi_lb = p$pi_lb, pi_ub = p$pi_ub, pi_lb_z = p$pi_lb_z, pi_ub_z = p$pi_ub_z,
              tau2 = r$tau2, I2 = r$I2, H2 = r$H2, QE = r$QE, QEp = r$QEp, k = r$k)
    for (c in cols) out[[c]] <- c(out[[c]], unname(vals[c]))
  }
  lapply(out, arr)
}

leave1out_ref <- list()
cumul_ref <- list()
for (dn in names(es)) for (m in methods) for (t in tests) {
  d <- es[[dn]]
  k <- nrow(d)
  key <- paste(dn, m, t, sep = "|")
  loo <- subset_fits(d, m, t, lapply(seq_len(k), function(i) setdiff(seq_len(k), i)))
  # cross-check the hand-rolled subsets against metafor's own leave1out()/cumul()
  l1 <- quiet(leave1out(fit(d, m, t)))
  stopifnot(isTRUE(all.equal(as.numeric(unclass(loo$estimate)), as.numeric(l1$estimate), tolerance = 1e-12)))
  leave1out_ref[[key]] <- loo
  # cumulative in a given order: data order, and reversed year order for debruin2009
  # (metafor >= 3.8 takes 'order' as a sort key, ties kept in data order, as we do)
  key_vals <- if (dn == "debruin2009") -d$year else seq_len(k)
  ord <- order(key_vals)
  cu <- subset_fits(d, m, t, lapply(seq_len(k), function(i) ord[seq_len(i)]))
  c1 <- quiet(cumul(fit(d, m, t), order = key_vals))
  stopifnot(isTRUE(all.equal(as.numeric(unclass(cu$estimate)), as.numeric(c1$estimate), tolerance = 1e-12)))
  cu$order_key <- arr(key_vals)
  cu$order <- arr(ord)
  cumul_ref[[key]] <- cu
}

# ---- influence ------------------------------------------------------------------------------
influence_ref <- list()
for (dn in names(es)) for (m in methods) for (t in tests) {
  inf <- quiet(influence(fit(es[[dn]], m, t)))
  x <- inf$inf
  influence_ref[[paste(dn, m, t, sep = "|")]] <- list(
    rstudent = arr(x$rstudent), dffits = arr(x$dffits), cook_d = arr(x$cook.d),
    cov_r = arr(x$cov.r), tau2_del = arr(x$tau2.del), QE_del = arr(x$QE.del),
    hat = arr(x$hat), weight = arr(x$weight), dfbetas = arr(inf$dfbs$intrcpt),
    is_infl = arr(as.numeric(inf$is.infl)))
}

# ---- Egger-type regression test (regtest, model "rma", predictor "sei") ----------------------
regtest_ref <- list()
for (dn in names(es)) for (m in methods) for (t in tests) {
  rt <- quiet(regtest(fit(es[[dn]], m, t)))
  regtest_ref[[paste(dn, m, t, sep = "|")]] <- list(
    zval = rt$zval, pval = rt$pval, dfs = if (t == "z") NA else rt$ddf,
    est = rt$est, ci_lb = rt$ci.lb, ci_ub = rt$ci.ub,
    slope = rt$fit$b[2], slope_se = rt$fit$se[2], tau2 = rt$fit$tau2)
}

# ---- meta-regression with one moderator ------------------------------------------------------
metareg_ref <- list()
moderators <- list(pritz1997 = "index", debruin2009 = "scq")
for (dn in names(es)) for (m in methods) for (t in tests) {
  d <- es[[dn]]
  d$x <- d[[moderators[[dn]]]]
  r <- fit(d, m, t, mods = ~ x)
  metareg_ref[[paste(dn, m, t, sep = "|")]] <- list(
    moderator = moderators[[dn]],
    b = arr(c(r$b)), se = arr(r$se), zval = arr(r$zval), pval = arr(r$pval),
    ci_lb = arr(r$ci.lb), ci_ub = arr(r$ci.ub),
    QM = r$QM, QMp = r$QMp, QMdf = arr(r$QMdf), QE = r$QE, QEp = r$QEp, QEdf = r$k - r$p,
    tau2 = r$tau2, I2 = r$I2, H2 = r$H2, R2 = if (is.null(r$R2)) NA else r$R2,
    k = r$k)
}
# predictions at new moderator values (CI, PI with t(k - p) and with z)
metareg_predict_ref <- list()
newx <- list(pritz1997 = c(0, 7.5, 20), debruin2009 = c(5, 15, 25))
for (dn in names(es)) for (m in c("DL", "REML")) for (t in tests) {
  d <- es[[dn]]
  d$x <- d[[moderators[[dn]]]]
  r <- fit(d, m, t, mods = ~ x)
  pt <- predict(r, newmods = newx[[dn]], pi.type = "t")
  pz <- predict(r, newmods = newx[[dn]])
  metareg_predict_ref[[paste(dn, m, t, sep = "|")]] <- list(
    x = arr(newx[[dn]]), pred = arr(pt$pred), se = arr(pt$se), ci_lb = arr(pt$ci.lb),
    ci_ub = arr(pt$ci.ub), pi_lb = arr(pt$pi.lb), pi_ub = arr(pt$pi.ub),
    pi_lb_z = arr(pz$pi.lb), pi_ub_z = arr(pz$pi.ub))
}

# ---- subgroups: separate tau2 per subgroup (meta's default test) and the mixed-effects
# ---- moderator test with a common tau2 (metafor rma(mods = ~ factor(group)))
subgroup_ref <- list()
groupings <- list(pritz1997 = "half", debruin2009 = "ethnicity")
for (dn in names(es)) for (m in c("EE", "DL", "REML", "ML", "PM")) for (t in tests) {
  d <- es[[dn]]
  g <- d[[groupings[[dn]]]]
  levs <- sort(unique(g))
  per <- list()
  mu <- c(); se <- c()
  for (l in levs) {
    r <- fit(d[g == l, ], m, t)
    per[[l]] <- list(estimate = r$b[1], se = r$se, ci_lb = r$ci.lb, ci_ub = r$ci.ub,
                     tau2 = r$tau2, I2 = r$I2, QE = r$QE, k = r$k)
    mu <- c(mu, r$b[1]); se <- c(se, r$se)
  }
  # Q_b = sum w_g (mu_g - mu_bar)^2, w_g = 1/se_g^2, df = G - 1 (meta's test with separate tau2)
  qb <- rma(mu, sei = se, method = "EE")
  mods <- fit(d, m, t, mods = ~ factor(g))
  subgroup_ref[[paste(dn, m, t, sep = "|")]] <- list(
    grouping = groupings[[dn]], levels = arr(levs), groups = per,
    Qb = qb$QE, Qb_df = qb$k - 1, Qb_p = qb$QEp,
    QM = mods$QM, QMp = mods$QMp, QMdf = arr(mods$QMdf), tau2_common = mods$tau2)
}

# GLMM subgroups (binomial-normal, ML; metafor rma.glmm via lme4) for the separate-tau2 test.
glmm_sub <- list()
for (l in c("A", "B")) {
  r <- rma.glmm(measure = "PLO", xi = xi, ni = ni, data = pritz[pritz$half == l, ])
  glmm_sub[[l]] <- list(estimate = r$b[1], se = r$se, tau2 = r$tau2, k = r$k)
}
qb_glmm <- rma(c(glmm_sub$A$estimate, glmm_sub$B$estimate),
               sei = c(glmm_sub$A$se, glmm_sub$B$se), method = "EE")
subgroup_ref[["pritz1997|GLMM|z"]] <- list(
  grouping = "half", levels = arr(c("A", "B")), groups = glmm_sub,
  Qb = qb_glmm$QE, Qb_df = 1, Qb_p = qb_glmm$QEp)

# ---- write -----------------------------------------------------------------------------------
data_out <- list(
  pritz1997 = list(label = arr(pritz$label), xi = arr(pritz$xi), ni = arr(pritz$ni),
                   index = arr(pritz$index), half = arr(pritz$half),
                   synthetic = "index (moderator) and half (studies 1-7 = A, 8-14 = B) are synthetic"),
  debruin2009 = list(label = arr(deb$label), xi = arr(deb$xi), ni = arr(deb$ni),
                     scq = arr(deb$scq), year = arr(deb$year), ethnicity = arr(deb$ethnicity)))
out <- list(
  source = list(
    script = "tests/reference/diagnostics_reference.R",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    measure = "escalc(measure = 'PLO', xi, ni) (add = 1/2 to = 'only0', metafor defaults)",
    control = "control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)",
    calls = list(
      leave1out = "rma(yi, vi, method, test) on each subset without study i (checked against leave1out()); predict(res, pi.type = 't') and predict(res)",
      cumul = "rma(yi, vi, method, test) on the first i studies in 'order' (checked against cumul(res, order)); pritz1997 in data order, debruin2009 by descending year",
      influence = "influence(rma(yi, vi, method, test))",
      regtest = "regtest(rma(yi, vi, method, test)) (model = 'rma', predictor = 'sei')",
      metareg = "rma(yi, vi, mods = ~ x, method, test); x = index (pritz1997, SYNTHETIC) or scq (debruin2009)",
      metareg_predict = "predict(rma(yi, vi, mods = ~ x, method, test), newmods, pi.type = 't') and predict(..., newmods)",
      subgroups = "per-level rma(yi, vi, method, test); Qb = rma(mu_g, sei = se_g, method = 'EE')$QE; QM = rma(yi, vi, mods = ~ factor(g), method, test)$QM; GLMM: rma.glmm(measure = 'PLO') per level"),
    grid = list(methods = arr(methods), tests = arr(tests), datasets = arr(names(es)),
                subgroup_methods = arr(c("EE", "DL", "REML", "ML", "PM")))),
  data = data_out,
  leave1out = leave1out_ref, cumul = cumul_ref, influence = influence_ref,
  regtest = regtest_ref, metareg = metareg_ref, metareg_predict = metareg_predict_ref,
  subgroups = subgroup_ref)
writeLines(to_json(out), out_path)
