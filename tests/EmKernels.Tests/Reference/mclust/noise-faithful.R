# Reference for NoiseComponentTests and CliTests: mclust's fits with a noise component, end to end (its hypervolume, its
# agglomeration of the points not flagged as noise, me() from that partition with the noise column, BIC with the noise's
# 2 parameters). me() returns the parameters whose E-step gave its last log-likelihood; an EM fit that stops on the same
# iteration and returns the parameters of one more M-step (emk's) is given by the "next" values: mclust's own estep and
# mstep once more from its fit (the M-step of FORMAT §6.4: the Gaussians from their columns, the weights from all).
# Data: R's faithful (272 x 2), jittered by N(0, 0.01^2) so that no two costs of the agglomeration tie (mclust breaks
# exact ties by its storage order: FORMAT §9.4 of the mclust fixtures), and 40 points uniform over its bounding box,
# appended (set.seed(20261201)); the initial noise flags are the appended rows. Run: Rscript noise-faithful.R > noise-faithful.json  (mclust 6.0)
suppressPackageStartupMessages(library(mclust))
set.seed(20261201)
x <- as.matrix(faithful) + matrix(rnorm(272 * 2, sd = 0.01), ncol = 2)
r <- apply(x, 2, range)
noise <- cbind(runif(40, r[1, 1], r[2, 1]), runif(40, r[1, 2], r[2, 2]))
X <- rbind(x, noise)
flags <- c(rep(FALSE, nrow(x)), rep(TRUE, 40))
models <- c("EII", "VII", "EEI", "VVI", "EEE", "VEV", "EVE", "VVV")
b <- mclustBIC(X, G = 1:5, modelNames = models, initialization = list(noise = flags))
fit <- Mclust(X, G = 1:5, modelNames = models, initialization = list(noise = flags))
next_step <- function(fit) {
  G <- fit$G
  e <- estep(data = X, modelName = fit$modelName, parameters = fit$parameters)
  m <- mstep(data = X, modelName = fit$modelName, z = e$z[, 1:G, drop = FALSE])
  p <- m$parameters
  p$pro <- colSums(e$z) / nrow(X)
  p$Vinv <- fit$parameters$Vinv
  e2 <- estep(data = X, modelName = fit$modelName, parameters = p)
  cl <- map(e2$z)
  cl[cl == G + 1] <- 0
  list(p = p, loglik = e2$loglik, classification = cl,
       bic = bic(fit$modelName, e2$loglik, nrow(X), ncol(X), G, noise = TRUE))
}
bic_next <- c()
for (g in 1:5) for (model in models) {
  cell <- Mclust(X, G = g, modelNames = model, initialization = list(noise = flags), verbose = FALSE)
  bic_next <- c(bic_next, next_step(cell)$bic)
}
best_next <- next_step(fit)
num <- function(v) paste(ifelse(is.na(v), "null", sprintf("%.17g", v)), collapse = ", ")
cat("{\n")
cat(sprintf('  "mclust_version": "%s",\n', packageVersion("mclust")))
cat(sprintf('  "points": %d, "features": 2,\n', nrow(X)))
cat(sprintf('  "data": [%s],\n', num(as.vector(t(X)))))
cat(sprintf('  "initial_noise": [%s],\n', paste(ifelse(flags, "true", "false"), collapse = ", ")))
cat(sprintf('  "log_hypervolume": %.17g,\n', log(hypvol(X))))
cat(sprintf('  "models": [%s],\n', paste0('"', models, '"', collapse = ", ")))
cat('  "G": [1, 2, 3, 4, 5],\n')
cat(sprintf('  "bic": [%s],\n', num(as.vector(t(b[, models])))))
cat(sprintf('  "best_model": "%s", "best_G": %d,\n', fit$modelName, fit$G))
cat(sprintf('  "best_loglik": %.17g,\n', fit$loglik))
cat(sprintf('  "best_weights": [%s],\n', num(fit$parameters$pro)))
cat(sprintf('  "best_means": [%s],\n', num(as.vector(fit$parameters$mean))))
cat(sprintf('  "best_classification": [%s],\n', paste(fit$classification, collapse = ", ")))
cat(sprintf('  "bic_next": [%s],\n', num(bic_next)))
cat(sprintf('  "best_next_loglik": %.17g,\n', best_next$loglik))
cat(sprintf('  "best_next_weights": [%s],\n', num(best_next$p$pro)))
cat(sprintf('  "best_next_means": [%s],\n', num(as.vector(best_next$p$mean))))
cat(sprintf('  "best_next_classification": [%s]\n', paste(best_next$classification, collapse = ", ")))
cat("}\n")
