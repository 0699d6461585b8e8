# Engine benchmark, R side: time metafor's rma (REML, test = "knha") and rma.glmm (measure PLO)
# in-process over many repetitions. Called by bench_engine.py as
#   Rscript benchmarks/bench_engine.R <dir>
# It writes <dir>/pritz1997.csv (dat.pritz1997 from metadat, so Python fits the same data), reads
# <dir>/sim1000.csv (the SYNTHETIC k = 1000 set written by bench_engine.py) and writes
# <dir>/r_timings.json: seconds per fit, repetitions and the estimates (for a sanity check).
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
reps <- list(pritz1997 = c(rma = 200, glmm = 20), sim1000 = c(rma = 3, glmm = 2))

data(dat.pritz1997, package = "metadat")
pritz <- data.frame(xi = dat.pritz1997$xi, ni = dat.pritz1997$ni)
write.csv(pritz, file.path(dir, "pritz1997.csv"), row.names = FALSE)
sets <- list(pritz1997 = pritz, sim1000 = read.csv(file.path(dir, "sim1000.csv")))

per_fit <- function(expr_fun, n) {
  expr_fun()  # warm-up (loads lme4, byte-compiles)
  t <- system.time(for (i in seq_len(n)) expr_fun())[["elapsed"]]
  t / n
}

num <- function(x) formatC(x, digits = 10, format = "g")
lines <- c()
for (name in names(sets)) {
  d <- sets[[name]]
  fit_rma <- function() rma(measure = "PLO", xi = d$xi, ni = d$ni, method = "REML", test = "knha")
  fit_glmm <- function() suppressWarnings(rma.glmm(measure = "PLO", xi = d$xi, ni = d$ni))
  t_rma <- per_fit(fit_rma, reps[[name]][["rma"]])
  t_glmm <- per_fit(fit_glmm, reps[[name]][["glmm"]])
  r <- fit_rma()
  g <- fit_glmm()
  lines <- c(lines, sprintf(
    '"%s": {"k": %d, "rma_seconds": %s, "rma_reps": %d, "glmm_seconds": %s, "glmm_reps": %d, "rma_mu": %s, "rma_tau2": %s, "glmm_mu": %s, "glmm_tau2": %s}',
    name, nrow(d), num(t_rma), reps[[name]][["rma"]], num(t_glmm), reps[[name]][["glmm"]],
    num(coef(r)[[1]]), num(r$tau2), num(coef(g)[[1]]), num(g$tau2)))
}
header <- sprintf('"R": "%s", "metafor": "%s"', R.version.string, as.character(packageVersion("metafor")))
writeLines(c("{", paste0(header, ","), paste(lines, collapse = ",\n"), "}"), file.path(dir, "r_timings.json"))
