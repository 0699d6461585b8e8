# Engine benchmark, R side: metafor's rma (REML, test = "knha") and rma.glmm (measure PLO), timed
# in-process. Called by bench_engine.py as
#   Rscript benchmarks/bench_engine.R <dir>
# It writes <dir>/pritz1997.csv (dat.pritz1997 from metadat, so Python fits the same data), reads
# <dir>/sim1000.csv (the SYNTHETIC k = 1000 set written by bench_engine.py) and writes
# <dir>/r_fits.json (versions and the estimates, for a sanity check). It then serves timing
# requests, one per line on standard input, "<set> <rma|glmm> <repetitions>", and answers each with
# one line: the seconds per fit over that many repetitions (after one warm-up fit). Python sends a
# request, times its own fit for a similar while, and so on in turn: both sides are timed side by
# side, under the same load. An empty line or the end of input stops it.
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]

data(dat.pritz1997, package = "metadat")
pritz <- data.frame(xi = dat.pritz1997$xi, ni = dat.pritz1997$ni)
write.csv(pritz, file.path(dir, "pritz1997.csv"), row.names = FALSE)
sets <- list(pritz1997 = pritz, sim1000 = read.csv(file.path(dir, "sim1000.csv")))

fits <- list(
  rma = function(d) rma(measure = "PLO", xi = d$xi, ni = d$ni, method = "REML", test = "knha"),
  glmm = function(d) suppressWarnings(rma.glmm(measure = "PLO", xi = d$xi, ni = d$ni)))

num <- function(x) formatC(x, digits = 10, format = "g")
lines <- c()
for (name in names(sets)) {
  d <- sets[[name]]
  r <- fits$rma(d)
  g <- fits$glmm(d)
  lines <- c(lines, sprintf('"%s": {"k": %d, "rma_mu": %s, "rma_tau2": %s, "glmm_mu": %s, "glmm_tau2": %s}',
    name, nrow(d), num(coef(r)[[1]]), num(r$tau2), num(coef(g)[[1]]), num(g$tau2)))
}
header <- sprintf('"R": "%s", "metafor": "%s"', R.version.string, as.character(packageVersion("metafor")))
writeLines(c("{", paste0(header, ","), paste(lines, collapse = ",\n"), "}"), file.path(dir, "r_fits.json"))
cat("ready\n")
flush(stdout())

input <- file("stdin", "r")
repeat {
  line <- readLines(input, n = 1)
  if (length(line) == 0 || nchar(line) == 0) break
  parts <- strsplit(line, " ")[[1]]
  d <- sets[[parts[1]]]
  fit <- fits[[parts[2]]]
  n <- as.integer(parts[3])
  fit(d)  # warm-up
  t <- system.time(for (i in seq_len(n)) fit(d))[["elapsed"]]
  cat(num(t / n), "\n", sep = "")
  flush(stdout())
}
