# Cross-validation harness: R's own functions on cases written by tests/test_xval_r.py.
#
#   Rscript tests/xval/xval.R CASES OUT
#
# CASES: one case a line, tab-separated: id, op, args (space-separated), values (space-separated).
# Doubles travel as C99 hex floats (R's sprintf("%a"), Python's float.hex), "NA" for a missing
# value, so nothing is lost in decimal. OUT: one line per case, "id<TAB>results" in the same form.
# Ops: round (args: digits), quantile (args: type, then probabilities), median, mean, sd,
# skewness / kurtosis (e1071, type 2), rank (args: ties method, then one group label per value;
# ranks of -x within each group, NA kept), dense (the same, match(-x, sort(unique(-x)))).

suppressPackageStartupMessages(library(e1071))

args <- commandArgs(trailingOnly = TRUE)
lines <- readLines(args[1])
hex <- function(v) ifelse(is.na(v) & !is.nan(v), "NA", sprintf("%a", v))
num <- function(s) suppressWarnings(as.numeric(s))
words <- function(s) if (length(s) == 0 || is.na(s) || s == "") character(0) else strsplit(s, " ", fixed = TRUE)[[1]]

grouped <- function(x, groups, f) {
  out <- rep(NA_real_, length(x))
  for (g in unique(groups)) {
    i <- which(groups == g)
    out[i] <- f(x[i])
  }
  out
}

run <- function(op, a, x) {
  switch(op,
    round = round(x, as.integer(a[1])),
    quantile = quantile(x, num(a[-1]), type = as.integer(a[1]), names = FALSE),
    median = median(x),
    mean = mean(x),
    sd = sd(x),
    skewness = skewness(x, type = 2),
    kurtosis = kurtosis(x, type = 2),
    rank = grouped(x, a[-1], function(v) rank(-v, ties.method = a[1], na.last = "keep")),
    dense = grouped(x, a[-1], function(v) as.numeric(match(-v, sort(unique(-v))))),
    stop(paste("unknown op", op))
  )
}

out <- character(length(lines))
for (k in seq_along(lines)) {
  f <- strsplit(lines[k], "\t", fixed = TRUE)[[1]]
  res <- run(f[2], words(f[3]), num(words(f[4])))
  out[k] <- paste0(f[1], "\t", paste(hex(res), collapse = " "))
}
writeLines(out, args[2])
