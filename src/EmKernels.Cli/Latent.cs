using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EmKernels.Engine;
using EmKernels.IO;
using EmKernels.Latent;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>
/// <c>emk fa</c> (factor analysis, probabilistic PCA) and <c>emk regress</c> (Bayesian linear regression by EM): both fit
/// from the data's statistics, so the file is streamed (memory independent of its rows) and read a few times, not
/// once per iteration.
/// </summary>
internal static class LatentCommands
{
    public static Command FactorAnalysis(Terminal terminal)
    {
        var command = new Command("fa", "Factor analysis (or probabilistic PCA with --ppca) of FILE by EM: loadings, noise variances, log-likelihood.");
        var argument = new Argument<string>("FILE") { Description = "CSV (header optional), .npy or Parquet." };
        var factors = new Option<int>("--factors", "-q") { Description = "Number of latent factors q (0 ≤ q ≤ number of columns).", DefaultValueFactory = _ => 1 };
        var ppca = new Option<bool>("--ppca") { Description = "Isotropic noise σ²I (probabilistic PCA) instead of a diagonal Ψ." };
        var columns = new Option<string?>("--columns") { Description = "Columns to analyse, by name or 1-based number, comma-separated (default: all)." };
        var maxIterations = new Option<int>("--max-iter") { Description = "EM iterations at most.", DefaultValueFactory = _ => 1000 };
        var tolerance = new Option<double>("--tol") { Description = "Stop when the mean log-likelihood changes by less than this.", DefaultValueFactory = _ => 1e-8 };
        var restarts = new Option<int>("--n-init") { Description = "Runs from different random starts; the best is kept.", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Random seed (the same seed gives the same fit).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "Threads at most (default: every core; results do not depend on it)." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the fitted model (JSON) to this file." };
        foreach (Option option in (Option[])[factors, ppca, columns, maxIterations, tolerance, restarts, seed, threads, output])
        {
            command.Add(option);
        }

        command.Add(argument);
        command.SetAction(parse =>
        {
            int q = parse.GetValue(factors);
            CheckIterations(parse.GetValue(maxIterations), parse.GetValue(tolerance), parse.GetValue(restarts), parse.GetValue(threads));
            string path = parse.GetValue(argument)!;
            using FileDataSource<double> file = DataFiles.Open<double>(path, terminal.Notes);
            using FileDataSource<double> data = parse.GetValue(columns) is { } chosen
                ? file.WithColumns(chosen.Split(',').Select(c => DataTable.ColumnIndex(file.ColumnNames, c.Trim(), path)).ToArray())
                : file.WithColumns(file.Columns);
            string[] names = data.Columns.Select(j => data.ColumnNames[j]).ToArray();
            CheckFinite(data, names);
            int d = data.Features;
            if (q < 0 || q > d)
            {
                throw new UsageException($"--factors is {q}; it must be in 0 … {d} (the number of columns).");
            }

            CheckScatterSize(d, parse.GetValue(threads), path);
            var options = new FactorAnalysisOptions
            {
                LatentDimensions = q,
                Noise = parse.GetValue(ppca) ? FactorNoise.Isotropic : FactorNoise.Diagonal,
                MaxIterations = parse.GetValue(maxIterations),
                Tolerance = parse.GetValue(tolerance),
                Restarts = parse.GetValue(restarts),
                Seed = parse.GetValue(seed),
                MaxDegreeOfParallelism = parse.GetValue(threads),
            };
            string label = $"{(options.Noise == FactorNoise.Isotropic ? "probabilistic PCA" : "factor analysis")}, q = {q}";
            FactorAnalysisModel<double> model = UsageErrors.Of(path, () => terminal.WithProgress($"fitting {label}", options.Restarts, verbose: false, progress =>
                new FactorAnalysis<double>(options with { Progress = progress }).Fit(data)));

            string? outputPath = parse.GetValue(output);
            if (outputPath is not null)
            {
                OutputFile.Write(outputPath, stream => WriteFactorAnalysis(stream, model, names));
            }

            terminal.Heading($"{label}: {model.TrainingPoints} points × {d} columns");
            terminal.Facts(
            [
                ("mean log-likelihood", Format.Number(model.MeanLogLikelihood)),
                ("iterations", $"{model.Iterations}{(model.Converged ? " (converged)" : " (not converged)")}"),
                ("BIC", Format.Number(model.TrainingBic)),
                ("AIC", Format.Number(model.TrainingAic)),
            ]);
            var rows = new List<string[]>();
            for (int j = 0; j < d; j++)
            {
                var row = new List<string> { names[j], Format.Number(model.Mean[j]) };
                for (int l = 0; l < q; l++)
                {
                    row.Add(Format.Number(model.Loadings[j * q + l]));
                }

                row.Add(Format.Number(model.NoiseVariances[j]));
                rows.Add([.. row]);
            }

            terminal.Table(["column", "mean", .. Enumerable.Range(1, q).Select(l => $"factor {l}"), "noise variance"], rows, textColumns: 1);
            if (outputPath is not null)
            {
                terminal.Line($"model written to {outputPath}");
            }

            return 0;
        });
        return command;
    }

    public static Command Regression(Terminal terminal)
    {
        var command = new Command("regress", "Bayesian linear regression of one column of FILE on the others, with EM on the prior and noise precisions α and β.");
        var file = new Argument<string>("FILE") { Description = "CSV (header optional), .npy or Parquet." };
        var target = new Option<string>("--target", "-y") { Description = "The target column, by name or 1-based number.", Required = true };
        var columns = new Option<string?>("--columns") { Description = "The regressor columns, by name or 1-based number, comma-separated (default: all but the target)." };
        var noIntercept = new Option<bool>("--no-intercept") { Description = "No column of ones (by default there is one, its weight under the same prior)." };
        var maxIterations = new Option<int>("--max-iter") { Description = "EM iterations at most.", DefaultValueFactory = _ => 1000 };
        var tolerance = new Option<double>("--tol") { Description = "Stop when the log evidence per point changes by less than this.", DefaultValueFactory = _ => 1e-10 };
        var threads = new Option<int?>("--threads") { Description = "Threads at most (default: every core; results do not depend on it)." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the fitted model (JSON) to this file." };
        var components = new Option<int?>("--components", "-k") { Description = "A mixture of K linear regressions (ML by EM, constant weights) instead of one Bayesian regression." };
        var experts = new Option<bool>("--gating", "--experts") { Description = "With -k: a mixture of experts (--experts is the same), the weights a softmax gate on the same inputs (one Newton step per iteration)." };
        var restarts = new Option<int>("--n-init") { Description = "With -k: runs from different starts; the best is kept.", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "With -k: random seed of the start (each expert by least squares on P + 2 random rows).", DefaultValueFactory = _ => 0 };
        foreach (Option option in (Option[])[target, columns, noIntercept, maxIterations, tolerance, threads, output, components, experts, restarts, seed])
        {
            command.Add(option);
        }

        command.Add(file);
        command.SetAction(parse =>
        {
            int? k = parse.GetValue(components);
            if (k is null && (parse.GetValue(experts) || parse.GetResult(restarts) is { Implicit: false } || parse.GetResult(seed) is { Implicit: false }))
            {
                throw new UsageException("--experts, --n-init and --seed are for a mixture of regressions: give --components K.");
            }

            if (k is < 1)
            {
                throw new UsageException("--components must be at least 1.");
            }

            CheckIterations(parse.GetValue(maxIterations), parse.GetValue(tolerance), parse.GetValue(restarts), parse.GetValue(threads));
            string path = parse.GetValue(file)!;
            using FileDataSource<double> all = DataFiles.Open<double>(path, terminal.Notes);
            int y = DataTable.ColumnIndex(all.ColumnNames, parse.GetValue(target)!.Trim(), path);
            int[] regressors = parse.GetValue(columns) is { } chosen
                ? chosen.Split(',').Select(c => DataTable.ColumnIndex(all.ColumnNames, c.Trim(), path)).ToArray()
                : Enumerable.Range(0, all.ColumnNames.Count).Where(j => j != y).ToArray();
            if (regressors.Contains(y))
            {
                throw new UsageException($"--columns includes the target column '{Quoted.Of(all.ColumnNames[y])}'.");
            }

            bool intercept = !parse.GetValue(noIntercept);
            if (!intercept && regressors.Length == 0)
            {
                throw new UsageException("--no-intercept needs at least one regressor column.");
            }

            CheckScatterSize(regressors.Length + 1, parse.GetValue(threads), path);
            using FileDataSource<double> data = all.WithColumns([.. regressors, y]);
            string[] names = data.Columns.Select(j => data.ColumnNames[j]).ToArray();
            string[] coefficientNames = [.. (intercept ? ["(intercept)"] : Array.Empty<string>()), .. names[..^1]];
            if (k is { } count)
            {
                CheckFinite(data, names);
                if (count > data.Points)
                {
                    throw new UsageException($"{path} has {data.Points} rows but --components is {count}; a mixture needs at least as many points as components.");
                }

                return RegressionMixture(terminal, path, data, coefficientNames, names[^1], parse.GetValue(output), parse.GetValue(experts), new RegressionMixtureOptions
                {
                    Components = count,
                    Intercept = intercept,
                    MaxIterations = parse.GetValue(maxIterations),
                    Tolerance = parse.GetResult(tolerance) is { Implicit: false } ? parse.GetValue(tolerance) : 1e-8,
                    Restarts = parse.GetValue(restarts),
                    Seed = parse.GetValue(seed),
                    MaxDegreeOfParallelism = parse.GetValue(threads),
                });
            }

            var options = new BayesianLinearRegressionOptions
            {
                Intercept = intercept,
                MaxIterations = parse.GetValue(maxIterations),
                Tolerance = parse.GetValue(tolerance),
                MaxDegreeOfParallelism = parse.GetValue(threads),
            };
            CheckFinite(data, names);
            BayesianLinearRegressionModel<double> model = UsageErrors.Of(path, () => terminal.WithProgress("fitting Bayesian linear regression", 1, verbose: false, progress =>
                new BayesianLinearRegression<double>(options with { Progress = progress }).Fit(data)));
            string[] weightNames = coefficientNames;

            string? outputPath = parse.GetValue(output);
            if (outputPath is not null)
            {
                OutputFile.Write(outputPath, stream => WriteRegression(stream, model, weightNames, names[^1]));
            }

            terminal.Heading($"Bayesian linear regression of '{names[^1]}': {model.TrainingPoints} points, {weightNames.Length} weights");
            terminal.Facts(
            [
                ("log evidence per point", Format.Number(model.LogEvidence)),
                ("α (prior precision)", Format.Number(model.Alpha)),
                ("β (noise precision)", $"{Format.Number(model.Beta)}  (noise sd {Format.Number(1 / Math.Sqrt(model.Beta))})"),
                ("iterations", $"{model.Iterations}{(model.Converged ? " (converged)" : " (not converged)")}"),
            ]);
            double[] deviations = model.CoefficientStandardDeviations();
            terminal.Table(
                ["weight", "posterior mean", "posterior sd"],
                weightNames.Select((name, i) => new[] { name, Format.Number(model.Coefficients[i]), Format.Number(deviations[i]) }).ToArray(),
                textColumns: 1);
            if (outputPath is not null)
            {
                terminal.Line($"model written to {outputPath}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>Every value finite (the first offender named by its line or row and column), and at least one row.</summary>
    private static void CheckFinite(FileDataSource<double> file, string[] names)
    {
        if (file.Points < 1)
        {
            throw new UsageException($"{file.Name} has no rows.");
        }

        Fitter.CheckFinite(file, names);
    }

    private static void CheckIterations(int maxIterations, double tolerance, int restarts, int? threads)
    {
        if (maxIterations < 0)
        {
            throw new UsageException("--max-iter must be at least 0.");
        }

        if (!(tolerance >= 0) || double.IsInfinity(tolerance))
        {
            throw new UsageException("--tol must be finite and non-negative.");
        }

        if (restarts < 1)
        {
            throw new UsageException("--n-init must be at least 1.");
        }

        if (threads is < 1)
        {
            throw new UsageException("--threads must be at least 1.");
        }
    }

    /// <summary>Refuses a fit whose D × D matrices (one per thread and a few for the model) would not fit in memory.</summary>
    private static void CheckScatterSize(int d, int? threads, string path)
    {
        double bytes = 8.0 * d * d * ((threads ?? Environment.ProcessorCount) + 6);
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available / 2 || (long)d * d > Array.MaxLength)
        {
            throw new UsageException($"{path}: {d} columns need {bytes / (1 << 30):F1} GiB for their {d} × {d} scatter matrices; choose fewer --columns.");
        }
    }

    /// <summary><c>emk regress --components K [--experts]</c>: the fit, its summary and its model file.</summary>
    private static int RegressionMixture(
        Terminal terminal, string path, FileDataSource<double> data, string[] coefficientNames, string target, string? outputPath, bool experts, RegressionMixtureOptions options)
    {
        string what = experts ? "mixture of experts" : "mixture of regressions";
        RegressionMixtureModel<double> model = UsageErrors.Of(path, () => terminal.WithProgress($"fitting a {what}", options.Restarts, verbose: false, progress => experts
            ? new MixtureOfExperts<double>(options with { Progress = progress }).Fit(data)
            : new MixtureOfRegressions<double>(options with { Progress = progress }).Fit(data)));
        if (outputPath is not null)
        {
            OutputFile.Write(outputPath, stream => WriteRegressionMixture(stream, model, coefficientNames, target));
        }

        int k = model.Components, p = model.Regressors;
        terminal.Heading($"{char.ToUpperInvariant(what[0])}{what[1..]} of '{target}': K = {k}, {data.Points} points, {p} coefficients per expert");
        terminal.Facts(
        [
            ("mean log-likelihood", Format.Number(model.MeanLogLikelihood)),
            ("iterations", $"{model.Iterations}{(model.Converged ? " (converged)" : " (not converged)")}"),
        ]);
        var headers = new List<string> { "expert", experts ? "mean gate" : "weight", "noise sd" };
        headers.AddRange(coefficientNames);
        double[] share = new double[k];
        if (experts)
        {
            // The gate averaged over the training inputs (each expert's share of the data), a chunk of rows at a time.
            int inputs = p - (model.Intercept ? 1 : 0), d = data.Features;
            int rows = (int)Math.Min(data.Points, 1 << 16);
            double[] chunk = new double[rows * d];
            double[] x = new double[rows * inputs];
            for (long start = 0; start < data.Points; start += rows)
            {
                int count = (int)Math.Min(rows, data.Points - start);
                data.Read(start, count, chunk, count, default, default);
                for (int i = 0; i < count; i++)
                {
                    for (int c = 0; c < inputs; c++)
                    {
                        x[i * inputs + c] = chunk[c * count + i];
                    }
                }

                double[] gates = model.GateProbabilities(x.AsSpan(0, count * inputs), count);
                for (int i = 0; i < count; i++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        share[j] += gates[i * k + j];
                    }
                }
            }

            for (int j = 0; j < k; j++)
            {
                share[j] /= data.Points;
            }
        }
        else
        {
            model.Gate.CopyTo(share);
        }

        terminal.Table(headers, Enumerable.Range(0, k).Select(j => new[] { j.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Fixed(share[j], 4), Format.Number(Math.Sqrt(model.Variances[j])) }
            .Concat(Enumerable.Range(0, p).Select(c => Format.Number(model.Coefficients[j * p + c]))).ToArray()).ToArray());
        if (outputPath is not null)
        {
            terminal.Line($"model written to {outputPath}");
        }

        return 0;
    }

    private static void WriteRegressionMixture(Stream stream, RegressionMixtureModel<double> model, string[] coefficientNames, string target)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("format", "emk-regression-mixture");
        json.WriteNumber("version", 1);
        json.WriteString("gating", model.Gating == ExpertGating.Softmax ? "softmax" : "constant");
        json.WriteString("target", target);
        json.WriteBoolean("intercept", model.Intercept);
        json.WriteNumber("components", model.Components);
        JsonFields.Strings(json, "coefficient_names", coefficientNames);
        JsonFields.Numbers(json, model.Gating == ExpertGating.Softmax ? "gate_rows" : "weights", model.Gate);
        JsonFields.Numbers(json, "coefficients", model.Coefficients);
        JsonFields.Numbers(json, "variances", model.Variances);
        json.WriteNumber("mean_log_likelihood", model.MeanLogLikelihood);
        JsonFields.Numbers(json, "mean_log_likelihood_history", model.MeanLogLikelihoodHistory);
        json.WriteNumber("iterations", model.Iterations);
        json.WriteBoolean("converged", model.Converged);
        json.WriteEndObject();
    }

    private static void WriteFactorAnalysis(Stream stream, FactorAnalysisModel<double> model, string[] names)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        int d = model.Features, q = model.LatentDimensions;
        json.WriteStartObject();
        json.WriteString("format", "emk-factor-analysis");
        json.WriteNumber("version", 1);
        json.WriteString("noise", model.Noise == FactorNoise.Isotropic ? "isotropic" : "diagonal");
        json.WriteNumber("latent_dimensions", q);
        JsonFields.Strings(json, "columns", names);
        JsonFields.Numbers(json, "mean", model.Mean);
        json.WriteStartArray("loadings");
        for (int j = 0; j < d; j++)
        {
            json.WriteStartArray();
            foreach (double w in model.Loadings.Slice(j * q, q))
            {
                json.WriteNumberValue(w);
            }

            json.WriteEndArray();
        }

        json.WriteEndArray();
        JsonFields.Numbers(json, "noise_variances", model.NoiseVariances);
        JsonFields.Numbers(json, "posterior_covariance", model.PosteriorCovariance());
        json.WriteNumber("mean_log_likelihood", model.MeanLogLikelihood);
        JsonFields.Numbers(json, "mean_log_likelihood_history", model.MeanLogLikelihoodHistory);
        json.WriteNumber("iterations", model.Iterations);
        json.WriteBoolean("converged", model.Converged);
        json.WriteNumber("training_points", model.TrainingPoints);
        json.WriteNumber("bic", model.TrainingBic);
        json.WriteNumber("aic", model.TrainingAic);
        json.WriteEndObject();
    }

    private static void WriteRegression(Stream stream, BayesianLinearRegressionModel<double> model, string[] weightNames, string target)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("format", "emk-bayesian-linear-regression");
        json.WriteNumber("version", 1);
        json.WriteString("target", target);
        json.WriteBoolean("intercept", model.Intercept);
        JsonFields.Strings(json, "weights", weightNames);
        json.WriteNumber("alpha", model.Alpha);
        json.WriteNumber("beta", model.Beta);
        JsonFields.Numbers(json, "posterior_mean", model.Coefficients);
        JsonFields.Numbers(json, "posterior_covariance", model.CoefficientCovariance);
        json.WriteNumber("log_evidence_per_point", model.LogEvidence);
        JsonFields.Numbers(json, "log_evidence_history", model.LogEvidenceHistory);
        json.WriteNumber("iterations", model.Iterations);
        json.WriteBoolean("converged", model.Converged);
        json.WriteNumber("training_points", model.TrainingPoints);
        json.WriteEndObject();
    }
}
