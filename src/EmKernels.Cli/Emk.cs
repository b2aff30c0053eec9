using System.CommandLine;
using System.Globalization;
using EmKernels.IO;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>
/// The <c>emk</c> commands: fit, predict, score, sample and select. <see cref="Run"/> is the whole
/// program with its streams passed in, so tests run it in-process exactly as the executable does.
/// Exit codes: 0 success, 2 bad input (one line on stderr, nothing written), 1 an internal error.
/// </summary>
internal static class Emk
{
    public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive)
    {
        if (args.Contains("--distributed"))
        {
            return Cluster.Run(args, output, error, (a, o, e) => RunCommand(a, o, e, interactive: false));
        }

        return RunCommand(args, output, error, interactive);
    }

    private static int RunCommand(string[] args, TextWriter output, TextWriter error, bool interactive)
    {
        var terminal = new Terminal(output, error, interactive);
        RootCommand root = Commands(terminal);
        ParseResult parse = root.Parse(args.Length == 0 ? ["--help"] : args);
        if (parse.Errors.Count > 0)
        {
            // One line, about the first unrecognised word if there is one; System.CommandLine's messages
            // may list the allowed values on lines of their own.
            var first = parse.Errors.FirstOrDefault(e => e.Message.Contains("nrecognized", StringComparison.Ordinal) && e.SymbolResult is not System.CommandLine.Parsing.ArgumentResult) ?? parse.Errors[0];
            string message = string.Join(" ", first.Message.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            string option = first.SymbolResult switch
            {
                System.CommandLine.Parsing.OptionResult o => $"{o.Option.Name}: ",
                System.CommandLine.Parsing.ArgumentResult { Parent: System.CommandLine.Parsing.OptionResult o } => $"{o.Option.Name}: ",
                _ => "",
            };
            error.WriteLine($"emk: {option}{message} (emk --help lists the commands and options)");
            return 2;
        }

        try
        {
            int exit = parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
            if (exit == 0 && Cluster.IsLeader)
            {
                error.Write(terminal.Notes.ToString()); // notes only for a command that succeeded: bad input stays one line
            }

            return exit;
        }
        catch (UsageException e)
        {
            error.WriteLine($"emk: {OneLine(e.Message)}");
            return 2;
        }
        catch (EmKernels.Distributed.DistributedFitException e)
        {
            // Every process has it (it names the process that failed): rank 0 says it, and all end normally.
            Cluster.FailedTogether = true;
            if (Cluster.IsLeader)
            {
                error.WriteLine($"emk: {OneLine(e.Message)}");
            }

            return 2;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error.WriteLine($"emk: internal error ({e.GetType().Name}): {OneLine(e.Message)}");
            return 1;
        }
    }

    /// <summary>A message as one line of at most 1,000 characters, whatever text from a file it quotes.</summary>
    private static string OneLine(string message)
    {
        string line = string.Join(" ", message.Split((char[])['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length <= 1000 ? line : string.Concat(line.AsSpan(0, 1000), "…");
    }

    private static RootCommand Commands(Terminal terminal)
    {
        var root = new RootCommand("emk: fit, inspect, choose and use mixture models (Gaussian, Bernoulli, categorical, binomial, Poisson), factor analysis and Bayesian linear regression on CSV, .npy or Parquet files.");
        root.Add(FitCommand(terminal));
        root.Add(PredictCommand(terminal));
        root.Add(ScoreCommand(terminal));
        root.Add(SampleCommand(terminal));
        root.Add(ImputeCommand(terminal));
        root.Add(SelectCommand(terminal));
        root.Add(LatentCommands.FactorAnalysis(terminal));
        root.Add(LatentCommands.Regression(terminal));
        root.Add(SequenceCommands.Hmm(terminal));
        return root;
    }

    private static Command FitCommand(Terminal terminal)
    {
        var command = new Command("fit", "Fit a mixture model to FILE (CSV with an optional header, .npy or Parquet); without FILE, to the embedded Old Faithful data (272 × 2).");
        var file = DataArgument();
        var shared = new SharedFitOptions(command);
        var components = new Option<int>("--components", "-k") { Description = "Number of components K.", DefaultValueFactory = _ => 2 };
        var covariance = new Option<string>("--covariance") { Description = "Gaussian covariance type: full, tied, diag, spherical, factor:Q (a mixture of factor analyzers, Q factors per component), or one of mclust's parameterizations EII … VVV (E, V for one column).", DefaultValueFactory = _ => "full" };
        var outputPath = new Option<string?>("--output", "-o") { Description = "Write the fitted model (JSON) to this file." };
        var plot = new Option<string?>("--plot") { Description = "Write an SVG of the fit (two columns, points coloured by component, 1σ and 2σ ellipses)." };
        var plotColumns = new Option<string?>("--plot-columns") { Description = "The two columns to plot (names or 1-based numbers; default the first two)." };
        var outOfCore = new Option<bool>("--out-of-core")
        {
            Description = "Stream FILE from disk every iteration instead of holding it in memory: memory independent of its size, the same fit bitwise. Chosen by itself when the data would not fit --memory-budget.",
        };
        var memoryBudget = new Option<long?>("--memory-budget") { Description = "Megabytes the data may take in memory before the fit streams them (default: a quarter of the memory available)." };
        var online = new Option<bool>("--online") { Description = "Stepwise (online) EM over shuffled minibatches instead of batch EM (Cappé and Moulines 2009): γ_t = (t0 + t)^-κ." };
        var batchSize = new Option<int>("--batch-size") { Description = "Online: points per minibatch.", DefaultValueFactory = _ => 1000 };
        var kappa = new Option<double>("--kappa") { Description = "Online: κ of the step sizes, 0.5 < κ ≤ 1.", DefaultValueFactory = _ => 0.6 };
        var stepOffset = new Option<double>("--t0") { Description = "Online: t0 of the step sizes (≥ 0).", DefaultValueFactory = _ => 1 };
        var epochs = new Option<int>("--epochs") { Description = "Online: passes over the data, in all (with --resume: the new total).", DefaultValueFactory = _ => 1 };
        var resume = new Option<string?>("--resume") { Description = "Online: continue the fit saved in this model file (its options; --epochs sets the new total), bitwise as if it had not stopped." };
        var missing = new Option<string>("--missing")
        {
            Description = "What NaN (and a CSV's empty, NA and NaN cells) are: reject (an error, the default), or marginalize (missing values: EM on each row's observed entries; Gaussian).",
            DefaultValueFactory = _ => "reject",
        };
        missing.AcceptOnlyFromAmong("reject", "marginalize");
        var monteCarlo = new Option<string?>("--monte-carlo")
        {
            Description = "Monte-Carlo EM: estimate each E-step from S draws per point, S growing from S1 by GROWTH per iteration up to MAX (S1[:GROWTH[:MAX]], default growth 1.25, max 10000).",
        };
        var distributed = new Option<bool>("--distributed")
        {
            Description = "Run as one process of a distributed fit under MPICH (mpiexec.mpich -n P emk fit FILE --distributed …): each process reads only its rows of FILE, the fit (batch or --online) is bitwise the one-process fit; rank 0 prints and writes the model.",
        };
        var initFrom = new Option<string?>("--init-from") { Description = "Start every run from the parameters of this model file (the same --model, -k, --covariance and columns); --max-iter 0 evaluates them." };
        var bayesian = new Option<string?>("--bayesian")
        {
            Description = "Variational Bayes (scikit-learn's BayesianGaussianMixture) with a dirichlet-process or dirichlet-distribution weight prior: -k is an upper bound; prints the effective components and the ELBO.",
        };
        bayesian.AcceptOnlyFromAmong(FitSettings.BayesianNames);
        var weightConcentration = new Option<double?>("--weight-concentration") { Description = "Bayesian: γ of the weight prior (default 1/K)." };
        var meanPrecision = new Option<double?>("--mean-precision") { Description = "Bayesian: β₀, how many points the prior mean counts as (default 1)." };
        var degreesOfFreedom = new Option<double?>("--dof") { Description = "Bayesian: ν₀ of the Wishart prior, > D − 1 (default D)." };
        foreach (Option option in (Option[])[components, covariance, outputPath, plot, plotColumns, outOfCore, memoryBudget, online, batchSize, kappa, stepOffset, epochs, resume, bayesian, weightConcentration, meanPrecision, degreesOfFreedom, initFrom, distributed, monteCarlo, missing])
        {
            command.Add(option);
        }

        command.Add(file);
        command.SetAction(parse =>
        {
            string? resumePath = parse.GetValue(resume);
            ModelFile? resumed = resumePath is null ? null : ModelFile.Read(resumePath);
            (CovarianceType type, int? factors, ParsimoniousModel? parameterization) = Names.CovarianceChoice(parse.GetValue(covariance)!, "--covariance");
            FitSettings settings = shared.Settings(parse) with
            {
                Components = parse.GetValue(components),
                Covariance = type,
                Factors = factors,
                Parameterization = parameterization,
                OutOfCore = parse.GetValue(outOfCore),
                Online = parse.GetValue(online) || resumed is not null,
                BatchSize = parse.GetValue(batchSize),
                Kappa = parse.GetValue(kappa),
                StepOffset = parse.GetValue(stepOffset),
                Epochs = parse.GetValue(epochs),
                Bayesian = parse.GetValue(bayesian),
                StartFrom = parse.GetValue(initFrom) is { } startPath ? ModelFile.Read(startPath) : null,
                WeightConcentration = parse.GetValue(weightConcentration),
                MeanPrecision = parse.GetValue(meanPrecision),
                DegreesOfFreedom = parse.GetValue(degreesOfFreedom),
                MonteCarlo = parse.GetValue(monteCarlo),
                Missing = parse.GetValue(missing) == "marginalize",
            };
            if (!settings.Online && (Given(parse, batchSize) || Given(parse, kappa) || Given(parse, stepOffset) || Given(parse, epochs)))
            {
                throw new UsageException("--batch-size, --kappa, --t0 and --epochs are for --online fits.");
            }

            if (resumed is not null)
            {
                if (resumed.Online is null)
                {
                    throw new UsageException($"{resumePath} is not an online fit (it has no 'online' state to resume).");
                }

                if (resumed.Online.Epoch >= settings.Epochs && Given(parse, epochs) && resumed.Online.BatchInEpoch == 0)
                {
                    throw new UsageException($"{resumePath} has run {resumed.Online.Epoch} epochs already; give a larger --epochs to go on.");
                }

                settings = resumed.Options with
                {
                    Epochs = Given(parse, epochs) ? settings.Epochs : Math.Max(resumed.Options.Epochs, resumed.Online.Epoch + 1),
                    Threads = settings.Threads,
                    OutOfCore = settings.OutOfCore,
                    Columns = settings.Columns ?? resumed.Options.Columns,
                };
            }

            string? modelPath = parse.GetValue(outputPath), plotPath = parse.GetValue(plot);
            if (plotPath is null && parse.GetValue(plotColumns) is not null)
            {
                throw new UsageException("--plot-columns needs --plot FILE.svg.");
            }

            if (plotPath is not null && settings.Missing)
            {
                throw new UsageException("--plot draws complete points; a fit with --missing marginalize has incomplete ones.");
            }

            if (parse.GetValue(memoryBudget) is < 1)
            {
                throw new UsageException("--memory-budget must be at least 1 (megabytes).");
            }

            settings.ValidateOptions();
            if (parse.GetValue(distributed))
            {
                string? unsupported = settings.Bayesian is not null ? "--bayesian" : settings.Prior ? "--prior" : plotPath is not null ? "--plot"
                    : settings.InitName == "hierarchical" ? "--init hierarchical" : settings.Model == "categorical" && settings.Categories is null ? "a categorical model without --categories" : null;
                if (unsupported is not null)
                {
                    throw new UsageException($"--distributed runs batch or online EM with k-means, random or random-points starts (or --init-from); {unsupported} is not distributed yet.");
                }
            }

            string label = settings.Online
                ? $"fitting {Names.Describe(settings.Model, settings.Covariance, settings.Components, settings.Factors, settings.Parameterization)} online"
                : $"fitting {Names.Describe(settings.Model, settings.Covariance, settings.Components, settings.Factors, settings.Parameterization)}";
            bool verbose = parse.GetValue(shared.Verbose);
            Func<Func<IProgress<FitProgress>?, FitOutcome>, FitOutcome> withProgress = settings.Online
                ? work => terminal.WithOnlineProgress(label, settings.Epochs, verbose, work)
                : work => terminal.WithProgress(label, settings.Restarts, verbose, work);
            long? budget = parse.GetValue(memoryBudget) is { } megabytes ? megabytes << 20 : null;
            (FitOutcome outcome, DataTable? data) = settings.Float32
                ? FitFile<float>(parse.GetValue(file), settings, budget, resumed, plotPath is not null, terminal.Notes, withProgress)
                : FitFile<double>(parse.GetValue(file), settings, budget, resumed, plotPath is not null, terminal.Notes, withProgress);
            if (plotPath is not null && data is not null)
            {
                (int X, int Y) plotted = Plot.Columns(data, parse.GetValue(plotColumns));
                int[] labels = outcome.Mixture.Predict(data.Values, data.Rows, probabilities: false).Labels;
                Plot.Write(plotPath, data, plotted.X, plotted.Y, labels, outcome.File);
            }

            if (modelPath is not null && Cluster.IsLeader)
            {
                outcome.File.Write(modelPath);
            }

            Summary.Write(terminal, outcome.File);
            if (modelPath is not null)
            {
                terminal.Line($"model written to {modelPath}");
            }

            if (plotPath is not null)
            {
                terminal.Line($"plot written to {plotPath}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>
    /// Fits FILE (or the embedded data): held in memory, or streamed from the file every iteration with
    /// --out-of-core or when the data would take more than the memory budget in memory. Returns the data too
    /// when they were held in memory.
    /// </summary>
    private static (FitOutcome Outcome, DataTable? Data) FitFile<T>(
        string? path, FitSettings settings, long? budget, ModelFile? resumed, bool plot, TextWriter notes, Func<Func<IProgress<FitProgress>?, FitOutcome>, FitOutcome> withProgress)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        if (path is null)
        {
            if (settings.OutOfCore)
            {
                throw new UsageException("--out-of-core streams a FILE; the embedded data set is held in memory.");
            }

            DataTable embedded = DataTable.Read(null).Select(settings.Columns);
            return (withProgress(progress => Fitter.Fit(embedded, settings, progress, resumed)), embedded);
        }

        path = Cluster.FileOf(path);
        if (Cluster.FilePerRank && settings.OutOfCore)
        {
            throw new UsageException("--out-of-core streams one shared FILE; with one file per process ({rank}) each process holds its shard in memory.");
        }

        using FileDataSource<T> file = DataFiles.Open<T>(path, notes, settings.Missing);
        using FileDataSource<T> chosen = settings.Columns is null
            ? file.WithColumns(file.Columns)
            : file.WithColumns(settings.Columns.Split(',').Select(c => DataTable.ColumnIndex(file.ColumnNames, c.Trim(), path)).ToArray());
        string[] columns = chosen.Columns.Select(j => chosen.ColumnNames[j]).ToArray();
        if (resumed is not null && !resumed.Columns.SequenceEqual(columns))
        {
            throw new UsageException($"{path} has the columns {Quoted.List(columns)}; the fit to resume was of {Quoted.List(resumed.Columns)} (choose them with --columns).");
        }

        // Held in memory, the data take one feature-major copy in the fit's precision (read straight from the
        // file); a plot needs them as a table of doubles besides, and the fit then copies and centres its own.
        long available = budget ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4;
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        long inMemory = chosen.Points * chosen.Features * (plot ? 8 + 2 * size : size);
        if ((settings.OutOfCore || inMemory > available) && !Cluster.FilePerRank)
        {
            if (plot)
            {
                throw new UsageException("--plot needs the data in memory, and this fit streams them (--out-of-core, or data beyond --memory-budget).");
            }

            FitSettings streamed = settings with { OutOfCore = true };
            return (withProgress(progress => Fitter.FitStreamed(chosen, columns, streamed, progress, resumed)), null);
        }

        if (!plot)
        {
            return (withProgress(progress => Fitter.FitStreamed(chosen, columns, settings, progress, resumed, hold: true)), null);
        }

        DataTable data = DataTable.Materialize(chosen, path);
        return (withProgress(progress => Fitter.Fit(data, settings, progress, resumed)), data);
    }

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static Command PredictCommand(Terminal terminal)
    {
        var command = new Command("predict", "Label the points of FILE with a model's most probable component (CSV: label, and p0 … pK−1 with --proba).");
        var inputs = new ModelInputs(command);
        var proba = new Option<bool>("--proba") { Description = "Also write each component's posterior probability." };
        var uncertainty = new Option<bool>("--uncertainty") { Description = "Also write each point's classification uncertainty, 1 − max_k p_k (mclust's)." };
        command.Add(proba);
        command.Add(uncertainty);
        command.SetAction(parse =>
        {
            (ModelFile stored, DataTable data) = inputs.Read(parse, terminal.Notes);
            bool withProbabilities = parse.GetValue(proba), withUncertainty = parse.GetValue(uncertainty);
            (int[] labels, double[]? probabilities) = UsageErrors.Of(data.Source, () => stored.Mixture().Predict(data.Values, data.Rows, withProbabilities || withUncertainty));
            int k = stored.Components;
            OutputFile.WriteText(parse.GetValue(inputs.Output), terminal.Out, writer =>
            {
                writer.WriteLine("label" + (withProbabilities ? "," + string.Join(",", Enumerable.Range(0, k).Select(c => $"p{c}")) : "") + (withUncertainty ? ",uncertainty" : ""));
                for (int i = 0; i < data.Rows; i++)
                {
                    writer.Write(labels[i].ToString(CultureInfo.InvariantCulture));
                    if (withProbabilities)
                    {
                        for (int c = 0; c < k; c++)
                        {
                            writer.Write(',');
                            writer.Write(R(probabilities![i * k + c]));
                        }
                    }

                    if (withUncertainty)
                    {
                        double largest = 0;
                        for (int c = 0; c < k; c++)
                        {
                            largest = Math.Max(largest, probabilities![i * k + c]);
                        }

                        writer.Write(',');
                        writer.Write(R(1 - largest));
                    }

                    writer.WriteLine();
                }
            });
            return 0;
        });
        return command;
    }

    private static Command ScoreCommand(Terminal terminal)
    {
        var command = new Command("score", "The mean log-likelihood of FILE under a model (with --per-point: each point's log-likelihood, as CSV).");
        var inputs = new ModelInputs(command);
        var perPoint = new Option<bool>("--per-point") { Description = "Write every point's log-likelihood instead of the mean." };
        command.Add(perPoint);
        command.SetAction(parse =>
        {
            (ModelFile stored, DataTable data) = inputs.Read(parse, terminal.Notes);
            double[] scores = UsageErrors.Of(data.Source, () => stored.Mixture().ScoreSamples(data.Values, data.Rows));
            OutputFile.WriteText(parse.GetValue(inputs.Output), terminal.Out, writer =>
            {
                if (!parse.GetValue(perPoint))
                {
                    writer.WriteLine(R(scores.Average()));
                    return;
                }

                writer.WriteLine("log_likelihood");
                foreach (double score in scores)
                {
                    writer.WriteLine(R(score));
                }
            });
            return 0;
        });
        return command;
    }

    private static Command ImputeCommand(Terminal terminal)
    {
        var command = new Command("impute", "Complete FILE's missing values (empty, NA or NaN cells) with their conditional means under a Gaussian model fitted with --missing marginalize (CSV: the model's columns; with --variances, their conditional variances after them).");
        var inputs = new ModelInputs(command);
        var variances = new Option<bool>("--variances") { Description = "Also write each value's conditional variance (0 where observed)." };
        command.Add(variances);
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(inputs.Model)!;
            ModelFile stored = ModelFile.Read(modelPath);
            if (stored.Model != "gaussian" || stored.Factors is not null || stored.Variational is not null)
            {
                throw new UsageException($"{modelPath}: emk impute takes a Gaussian mixture (of the full, tied, diag or spherical type, or one of mclust's).");
            }

            DataTable data = ModelColumns(DataTable.Read(parse.GetValue(inputs.File), terminal.Notes, missing: true), stored, parse.GetValue(inputs.Columns));
            (double[] values, double[] variance) = UsageErrors.Of(data.Source, () => stored.GaussianInDouble().Impute(data.Values, data.Rows));
            bool withVariances = parse.GetValue(variances);
            int d = data.Columns.Length;
            OutputFile.WriteText(parse.GetValue(inputs.Output), terminal.Out, writer =>
            {
                writer.WriteLine(string.Join(",", withVariances ? [.. stored.Columns, .. stored.Columns.Select(c => $"var {c}")] : stored.Columns));
                for (int n = 0; n < data.Rows; n++)
                {
                    IEnumerable<string> row = values.Skip(n * d).Take(d).Select(R);
                    writer.WriteLine(string.Join(",", withVariances ? row.Concat(variance.Skip(n * d).Take(d).Select(R)) : row));
                }
            });
            return 0;
        });
        return command;
    }

    private static Command SampleCommand(Terminal terminal)
    {
        var command = new Command("sample", "Draw points from a model (CSV: the model's columns and the component each point came from).");
        var model = ModelArgument();
        var count = new Option<int>("--n", "-n") { Description = "How many points.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed draws the same points.", DefaultValueFactory = _ => 0 };
        var outputPath = OutputOption("Write the CSV to this file instead of stdout.");
        command.Add(model);
        command.Add(count);
        command.Add(seed);
        command.Add(outputPath);
        command.SetAction(parse =>
        {
            ModelFile stored = ModelFile.Read(parse.GetValue(model)!);
            int n = parse.GetValue(count);
            if (n < 0)
            {
                throw new UsageException($"--n must be at least 0, not {n}.");
            }

            // Drawn and written a block at a time: memory is bounded for any n (the points are those of one draw of n).
            var mixture = stored.Mixture();
            var random = new Random(parse.GetValue(seed));
            int d = stored.Features;
            int block = (int)Math.Clamp((1 << 20) / Math.Max(1, d), 1, 65_536);
            double[] points = new double[block * d];
            int[] labels = new int[block];
            OutputFile.WriteText(parse.GetValue(outputPath), terminal.Out, writer =>
            {
                writer.WriteLine(string.Join(",", stored.Columns.Select(Quote)) + ",component");
                for (int done = 0; done < n; done += block)
                {
                    int count = Math.Min(block, n - done);
                    mixture.Sample(points, labels.AsSpan(0, count), random);
                    for (int i = 0; i < count; i++)
                    {
                        for (int j = 0; j < d; j++)
                        {
                            writer.Write(R(points[i * d + j]));
                            writer.Write(',');
                        }

                        writer.WriteLine(labels[i].ToString(CultureInfo.InvariantCulture));
                    }
                }
            });
            return 0;
        });
        return command;
    }

    private static Command SelectCommand(Terminal terminal)
    {
        var command = new Command("select", "Fit every K × covariance type and rank them by BIC, AIC or ICL (lower is better), as mclust's Mclust() does (its 14 parameterizations, hierarchical start and relative stopping rule by default for Gaussian mixtures); without FILE, the embedded Old Faithful data.");
        var file = DataArgument();
        var shared = new SharedFitOptions(command);
        var components = new Option<string>("--components", "-k") { Description = "The K to try: a range 1..9, a list 2,3,5, or one number.", DefaultValueFactory = _ => "1..9" };
        var covariance = new Option<string>("--covariance") { Description = "Covariance types to try: mclust (its 14 parameterizations; E and V for one column; the default), all (full, tied, diag, spherical), or a list such as full,diag,factor:4,VEV (Gaussian only).", DefaultValueFactory = _ => "mclust" };
        var criterion = new Option<string>("--criterion") { Description = "What ranks the models: bic, aic, or icl (BIC − 2 Σ log max_k p_k).", DefaultValueFactory = _ => "bic" };
        criterion.AcceptOnlyFromAmong("bic", "aic", "icl");
        var outputPath = new Option<string?>("--output", "-o") { Description = "Write the best model (JSON) to this file." };
        var table = new Option<string?>("--table") { Description = "Write the whole table to this file: CSV, or JSON when the name ends in .json (covariance, K, parameters, log-likelihood, BIC, AIC, ICL, converged, iterations)." };
        var saveAll = new Option<string?>("--save-all") { Description = "Write every candidate's model file into this directory (created if missing), named like full-k3.json." };
        command.Add(file);
        command.Add(components);
        command.Add(covariance);
        command.Add(criterion);
        command.Add(outputPath);
        command.Add(table);
        command.Add(saveAll);
        command.SetAction(parse =>
        {
            DataTable data = DataTable.Read(parse.GetValue(file), terminal.Notes).Select(parse.GetValue(shared.Columns));
            FitSettings baseline = shared.Settings(parse);
            if (baseline.Model == "gaussian")
            {
                // mclust's procedure unless asked otherwise: its hierarchical start, its relative stopping rule at 1e-5, and EM run
                // until that rule holds (mclust's emControl() allows 2^31 − 1 iterations; emk 10,000: slow EM, as a noise
                // component's, takes hundreds).
                baseline = baseline with
                {
                    MaxIterations = Given(parse, shared.MaxIterations) ? baseline.MaxIterations : 10_000,
                    Init = Given(parse, shared.Init) ? baseline.Init : "hierarchical",
                    StoppingRule = Given(parse, shared.Stop) || Given(parse, shared.Tolerance) ? baseline.StoppingRule : EmKernels.Engine.StoppingRule.RelativeChange,
                    Tolerance = Given(parse, shared.Stop) || Given(parse, shared.Tolerance) ? baseline.Tolerance : 1e-5,
                };
            }

            int[] ks = ComponentList(parse.GetValue(components)!, data.Rows);
            (CovarianceType Type, int? Factors, ParsimoniousModel? Parameterization)[] types = baseline.Model == "gaussian"
                ? CovarianceList(parse.GetValue(covariance)!, data.Columns.Length)
                : baseline.Model == "t"
                ? CovarianceList(parse.GetResult(covariance) is { Implicit: false } ? parse.GetValue(covariance)! : "full,tied,diag,spherical", data.Columns.Length)
                : parse.GetResult(covariance) is { Implicit: false }
                    ? throw new UsageException($"--covariance is for Gaussian mixtures, not --model {baseline.Model}.")
                    : [(CovarianceType.Full, null, null)];
            bool byBic = parse.GetValue(criterion) == "bic";
            string? modelPath = parse.GetValue(outputPath);
            // Candidates differ only in K (already checked against the rows) and the covariance type: one check covers them all.
            (baseline with { Components = ks[^1] }).Validate(data);
            // One agglomeration for every candidate, as mclust: made by the first fit, shared by the others (of the points
            // that do not start as noise, whose flags are therefore read or found once).
            baseline = baseline with
            {
                AgglomerationCache = new AgglomerationCache(),
                NoiseFlagValues = !baseline.Noise ? null
                    : baseline.NoiseInit is { } flagsPath ? Fitter.NoiseFlags(flagsPath, data.Rows)
                    : data.Rows > 6 ? NoiseDetection.NearestNeighborClutter(data.Values, data.Rows, data.Columns.Length, 5)
                    : throw new UsageException($"--noise: finding the starting noise points needs at least 7 rows; {data.Source} has {data.Rows} (give --noise-init)."),
            };
            if (baseline.InitName == "hierarchical" && !baseline.Missing)
            {
                // The agglomeration every candidate starts from is made on the other threads while the first fits run (which
                // need it not: one component); a fit that needs it waits, so the pool is given threads for it meanwhile.
                ThreadPool.GetMinThreads(out int workerThreads, out int ioThreads);
                ThreadPool.SetMinThreads(Math.Max(workerThreads, 2 * Environment.ProcessorCount), ioThreads);
                baseline.AgglomerationCache!.StartFill(data.Values, data.Rows, data.Columns.Length, baseline.NoiseFlagValues ?? [], Environment.ProcessorCount);
            }

            var candidates = (from k in ks from type in types select baseline with { Components = k, Covariance = type.Type, Factors = type.Factors, Parameterization = type.Parameterization }).ToList();

            // ICL = BIC − 2 Σ log max_k p_k: one more pass per model, for its classification's entropy (in the fit's worker).
            // Small data: the candidates run side by side, one thread each (a fit's result does not depend on its threads).
            var outcomes = new List<FitOutcome>();
            bool parallel = candidates.Count > 1 && baseline.Threads is null && (long)data.Rows * data.Columns.Length <= 2_000_000 && Environment.ProcessorCount > 1;
            if (parallel)
            {
                var results = new FitOutcome[candidates.Count];
                terminal.WithProgress($"fitting {candidates.Count} candidates on {Environment.ProcessorCount} cores", 1, verbose: false, _ =>
                {
                    // The first fit fills the shared agglomeration; the others then run side by side. A failure is reported as
                    // itself (the first in candidate order), not wrapped.
                    results[0] = Fitter.Fit(data, candidates[0], null);
                    try
                    {
                        // The costliest first, one at a time, so that no core is left alone with the last large fits: the
                        // larger K, the costlier, and mclust's iterative M-steps (EVE and VVE above all) beyond the others.
                        // One component needs no agglomeration: those fits go first, while it may still be being made.
                        int[] order = [.. Enumerable.Range(1, candidates.Count - 1).OrderByDescending(i => candidates[i].Components == 1 ? double.PositiveInfinity : CostRank(candidates[i]))];
                        Parallel.ForEach(
                            System.Collections.Concurrent.Partitioner.Create(order, System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering),
                            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                            i => results[i] = Fitter.Fit(data, candidates[i] with { Threads = 1 }, null));
                    }
                    catch (AggregateException e) when (e.InnerExceptions.Count > 0)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
                    }

                    return results[0];
                });
                outcomes.AddRange(results.Select((o, i) => o with { File = o.File with { Options = o.File.Options with { Threads = null } } }));
            }
            else
            {
                for (int i = 0; i < candidates.Count; i++)
                {
                    FitSettings s = candidates[i];
                    outcomes.Add(terminal.WithProgress(
                        $"[{i + 1}/{candidates.Count}] {Names.Describe(s.Model, s.Covariance, s.Components, s.Factors, s.Parameterization)}", s.Restarts, parse.GetValue(shared.Verbose),
                        progress => Fitter.Fit(data, s, progress)));
                }
            }

            string criterionName = parse.GetValue(criterion)!.ToUpperInvariant();
            bool byIcl = criterionName == "ICL";

            // ICL = BIC − 2 Σ log max_k p_k: one more pass per model, for its classification's entropy (side by side, as the fits).
            double[] icl = new double[outcomes.Count];
            Parallel.For(0, outcomes.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel ? Environment.ProcessorCount : 1 }, i => icl[i] = Icl(outcomes[i], data, parallel ? 1 : null));
            double Criterion(FitOutcome o) => byIcl ? icl[outcomes.IndexOf(o)] : byBic ? o.File.Fit.Bic : o.File.Fit.Aic;
            int[] usable = [.. Enumerable.Range(0, outcomes.Count).Where(i => outcomes[i].Failure is null)];
            if (usable.Length == 0)
            {
                throw new UsageException($"every candidate failed as mclust's would (the first: {Names.Describe(outcomes[0].File.Model, outcomes[0].File.Covariance, outcomes[0].File.Gaussians, outcomes[0].File.Factors, outcomes[0].File.Parameterization)}: {outcomes[0].Failure}).");
            }

            int best = usable.MinBy(i => Criterion(outcomes[i]));
            if (modelPath is not null)
            {
                outcomes[best].File.Write(modelPath);
            }

            if (parse.GetValue(saveAll) is { } folder)
            {
                try
                {
                    Directory.CreateDirectory(folder);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    throw new UsageException($"--save-all: cannot create the directory '{Quoted.Of(folder)}': {e.Message}");
                }

                foreach (FitOutcome o in outcomes)
                {
                    string name = Names.IsContinuous(baseline.Model) ? (baseline.Model == "t" ? "t-" : "") + Names.Of(o.File.Covariance!.Value, o.File.Factors, o.File.Parameterization).Replace(':', '-') : baseline.Model;
                    o.File.Write(Path.Combine(folder, $"{name}-k{o.File.Gaussians.ToString(CultureInfo.InvariantCulture)}.json"));
                }
            }

            if (parse.GetValue(table) is { } tablePath)
            {
                WriteSelectionTable(tablePath, outcomes, icl, baseline.Model);
            }

            bool gaussian = Names.IsContinuous(baseline.Model);
            terminal.Heading($"Model selection on {data.Source} ({data.Rows} × {data.Columns.Length}) by {criterionName}, lower is better" + (baseline.Noise ? "; K Gaussian components and mclust's noise component" : ""));
            var headers = new List<string> { "", "K" };
            if (gaussian)
            {
                headers.Add("covariance");
            }

            headers.AddRange(["parameters", "mean log-likelihood", "BIC", "AIC", "ICL", "iterations", "converged", "time"]);
            var rows = outcomes.Select((o, i) =>
            {
                var row = new List<string> { i == best ? "*" : "", o.File.Gaussians.ToString(CultureInfo.InvariantCulture) };
                if (gaussian)
                {
                    row.Add(Names.Of(o.File.Covariance!.Value, o.File.Factors, o.File.Parameterization));
                }

                bool na = o.Failure is not null;
                row.AddRange(
                [
                    o.Mixture.ParameterCount.ToString(CultureInfo.InvariantCulture), Format.Number(o.File.Fit.MeanLogLikelihood),
                    na ? "NA" : Format.Fixed(o.File.Fit.Bic, 2), na ? "NA" : Format.Fixed(o.File.Fit.Aic, 2), na ? "NA" : Format.Fixed(icl[i], 2),
                ]);

                row.AddRange([o.File.Fit.Iterations.ToString(CultureInfo.InvariantCulture), o.File.Fit.Converged ? "yes" : "no", Format.Time(o.File.Fit.Time)]);
                return row.ToArray();
            }).ToList();
            terminal.Table(headers, rows, textColumns: gaussian ? 3 : 1, highlightRow: best);
            if (outcomes.Any(o => o.Failure is not null))
            {
                terminal.Line("NA: a fit mclust reports as NA (a singular covariance, an emptied component, or no convergence) is not selected; --table gives the reason.");
            }
            FitOutcome chosen = outcomes[best];
            terminal.Line($"best: {Names.Describe(chosen.File.Model, chosen.File.Covariance, chosen.File.Gaussians, chosen.File.Factors, chosen.File.Parameterization)}{(chosen.File.NoiseLogDensity is null ? "" : " and mclust's noise component")} ({criterionName} {Format.Fixed(Criterion(chosen), 2)})" + (modelPath is null ? "" : $", written to {modelPath}"));
            return 0;
        });
        return command;
    }

    /// <summary>A candidate's expected cost, for scheduling: K, times more for mclust's iterative M-steps.</summary>
    private static double CostRank(FitSettings s) => s.Components * s.Parameterization switch
    {
        ParsimoniousModel.EVE or ParsimoniousModel.VVE => 4.0,
        ParsimoniousModel.VEV or ParsimoniousModel.VEE or ParsimoniousModel.VEI or ParsimoniousModel.EEV => 1.5,
        _ => 1.0,
    };

    /// <summary>ICL = BIC − 2 Σ log max_k p_k: one more pass of the model over the data, for its classification's entropy.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static double Icl(FitOutcome o, DataTable data, int? threads)
    {
        double[] p = o.Mixture.Predict(data.Values, data.Rows, probabilities: true, threads).Probabilities!;
        int k = o.File.Components; // the noise component's column too, as mclust's ICL
        double sum = 0;
        for (int i = 0; i < data.Rows; i++)
        {
            double largest = 0;
            for (int c = 0; c < k; c++)
            {
                largest = Math.Max(largest, p[i * k + c]);
            }

            sum += largest > 0 ? Math.Log(largest) : 0;
        }

        return o.File.Fit.Bic - (2 * sum);
    }

    /// <summary>The selection table as CSV, or JSON (an array of rows) when the name ends in .json.</summary>
    private static void WriteSelectionTable(string path, List<FitOutcome> outcomes, double[] icl, string model)
    {
        string Covariance(FitOutcome o) => Names.IsContinuous(model) ? Names.Of(o.File.Covariance!.Value, o.File.Factors, o.File.Parameterization) : model;
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            OutputFile.Write(path, stream =>
            {
                using var json = new System.Text.Json.Utf8JsonWriter(stream, new System.Text.Json.JsonWriterOptions { Indented = true });
                json.WriteStartArray();
                for (int i = 0; i < outcomes.Count; i++)
                {
                    FitOutcome o = outcomes[i];
                    json.WriteStartObject();
                    json.WriteString("covariance", Covariance(o));
                    json.WriteNumber("k", o.File.Gaussians);
                    json.WriteNumber("parameters", o.Mixture.ParameterCount);
                    json.WriteNumber("log_likelihood", o.File.Fit.MeanLogLikelihood * o.File.Fit.Points);
                    json.WriteNumber("mean_log_likelihood", o.File.Fit.MeanLogLikelihood);
                    json.WriteNumber("bic", o.File.Fit.Bic);
                    json.WriteNumber("aic", o.File.Fit.Aic);
                    json.WriteNumber("icl", icl[i]);
                    json.WriteBoolean("converged", o.File.Fit.Converged);
                    json.WriteNumber("iterations", o.File.Fit.Iterations);
                    if (o.Failure is { } failure)
                    {
                        json.WriteString("mclust_na", failure);
                    }
                    else
                    {
                        json.WriteNull("mclust_na");
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
            });
            return;
        }

        OutputFile.WriteText(path, TextWriter.Null, writer =>
        {
            writer.WriteLine("covariance,k,parameters,log_likelihood,mean_log_likelihood,bic,aic,icl,converged,iterations,mclust_na");
            for (int i = 0; i < outcomes.Count; i++)
            {
                FitOutcome o = outcomes[i];
                writer.WriteLine(string.Join(",",
                    Covariance(o), o.File.Gaussians.ToString(CultureInfo.InvariantCulture), o.Mixture.ParameterCount.ToString(CultureInfo.InvariantCulture),
                    R(o.File.Fit.MeanLogLikelihood * o.File.Fit.Points), R(o.File.Fit.MeanLogLikelihood), R(o.File.Fit.Bic), R(o.File.Fit.Aic), R(icl[i]),
                    o.File.Fit.Converged ? "true" : "false", o.File.Fit.Iterations.ToString(CultureInfo.InvariantCulture), o.Failure is { } reason ? $"\"{reason}\"" : ""));
            }
        });
    }

    /// <summary>The fit options fit and select share; each command gets its own instances.</summary>
    private sealed class SharedFitOptions
    {
        public SharedFitOptions(Command command)
        {
            Model.AcceptOnlyFromAmong(Names.Models);
            Init.AcceptOnlyFromAmong(FitSettings.InitNames);
            Stop.AcceptOnlyFromAmong(FitSettings.StoppingRuleNames);
            NuEstimate.AcceptOnlyFromAmong(Names.NuEstimates);
            foreach (Option option in (Option[])[Model, Columns, MaxIterations, Tolerance, Stop, RegCovar, Prior, Init, Restarts, Seed, Float32, Threads, Smoothing, Trials, Categories, Nu, NuEstimate, Noise, NoiseInit, Verbose])
            {
                command.Add(option);
            }
        }

        public Option<string> Model { get; } = new("--model") { Description = "Component family (t: multivariate Student t, robust to outliers, fitted by ECM).", DefaultValueFactory = _ => "gaussian" };

        public Option<double> Nu { get; } = new("--nu") { Description = "t: the starting degrees of freedom ν of every component.", DefaultValueFactory = _ => 10 };

        public Option<string> NuEstimate { get; } = new("--nu-estimate") { Description = "t: how ν is estimated: per-component, shared, or fixed (at --nu).", DefaultValueFactory = _ => "per-component" };

        public Option<string?> Columns { get; } = ColumnsOption("Columns to fit, by name or 1-based number, comma-separated (default: all).");

        public Option<int> MaxIterations { get; } = new("--max-iter") { Description = "EM iterations at most.", DefaultValueFactory = _ => 100 };

        public Option<double> Tolerance { get; } = new("--tol") { Description = "Stop when the mean log-likelihood changes by less than this.", DefaultValueFactory = _ => 1e-3 };

        public Option<string> Stop { get; } = new("--stop")
        {
            Description = "When a run has converged: absolute (the mean log-likelihood changed by less than --tol; scikit-learn's), relative (mclust's: the total's change relative to it; use --tol 1e-5) or aitken (the estimated limit is within --tol).",
            DefaultValueFactory = _ => "absolute",
        };

        public Option<double> RegCovar { get; } = new("--reg-covar") { Description = "Added to every covariance's diagonal (Gaussian).", DefaultValueFactory = _ => 1e-6 };

        public Option<string?> Init { get; } = new("--init") { Description = "Initialisation: kmeans (Gaussian default), random (responsibilities; discrete default), random-points, or hierarchical (mclust's: model-based agglomeration, deterministic; Gaussian)." };

        public Option<bool> Prior { get; } = new("--prior") { Description = "MAP estimation with mclust's default conjugate prior (Gaussian): the fit increases the log-posterior; the log-likelihood and BIC are reported as mclust does." };

        public Option<int> Restarts { get; } = new("--n-init") { Description = "Runs from different starts; the best is kept.", DefaultValueFactory = _ => 1 };

        public Option<int> Seed { get; } = new("--seed") { Description = "Random seed (the same seed gives the same fit).", DefaultValueFactory = _ => 0 };

        public Option<bool> Float32 { get; } = new("--float32") { Description = "Compute in float32 (sums stay float64)." };

        public Option<int?> Threads { get; } = new("--threads") { Description = "Threads at most (default: every core; results do not depend on it)." };

        public Option<double> Smoothing { get; } = new("--smoothing") { Description = "Pseudo-count added to discrete parameter estimates.", DefaultValueFactory = _ => 0 };

        public Option<int?> Trials { get; } = new("--trials") { Description = "Binomial: the number of trials behind every count." };

        public Option<int?> Categories { get; } = new("--categories") { Description = "Categorical: the number of categories (default: the largest code + 1)." };

        public Option<bool> Noise { get; } = new("--noise")
        {
            Description = "Gaussian: add mclust's noise component, a uniform density 1/V over the data's hypervolume, which takes the outliers (its start: --noise-init, else nearest-neighbour clutter of the data).",
        };

        public Option<string?> NoiseInit { get; } = new("--noise-init")
        {
            Description = "With --noise: a file of one flag per data row (1/0 or true/false, an optional header line): the rows that start in the noise component (mclust's initialization$noise).",
        };

        public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Print a progress line per iteration on stderr (a terminal shows live progress anyway)." };

        public FitSettings Settings(ParseResult parse) => new()
        {
            Model = parse.GetValue(Model)!,
            Columns = parse.GetValue(Columns),
            MaxIterations = parse.GetValue(MaxIterations),
            Tolerance = parse.GetValue(Tolerance),
            StoppingRule = FitSettings.StoppingRuleOf(parse.GetValue(Stop)!),
            RegCovar = parse.GetValue(RegCovar),
            Prior = parse.GetValue(Prior),
            Init = parse.GetValue(Init),
            Restarts = parse.GetValue(Restarts),
            Seed = parse.GetValue(Seed),
            Float32 = parse.GetValue(Float32),
            Threads = parse.GetValue(Threads),
            Smoothing = parse.GetValue(Smoothing),
            Trials = parse.GetValue(Trials),
            Categories = parse.GetValue(Categories),
            Nu = parse.GetValue(Nu),
            NuEstimate = parse.GetValue(NuEstimate)!,
            Noise = parse.GetValue(Noise) || parse.GetValue(NoiseInit) is not null,
            NoiseInit = parse.GetValue(NoiseInit),
        };
    }

    /// <summary>What predict and score both take: a model file, a data file, its columns, and where to write.</summary>
    private sealed class ModelInputs
    {
        public ModelInputs(Command command)
        {
            command.Add(Model);
            command.Add(File);
            command.Add(Columns);
            command.Add(Output);
        }

        public Argument<string> Model { get; } = ModelArgument();

        public Argument<string?> File { get; } = DataArgument();

        public Option<string?> Columns { get; } = ColumnsOption("The columns of FILE the model's features are (default: the model's column names, else every column).");

        public Option<string?> Output { get; } = OutputOption("Write to this file instead of stdout.");

        /// <summary>The model, and the data's columns that are its features.</summary>
        public (ModelFile Model, DataTable Data) Read(ParseResult parse, TextWriter notes)
        {
            ModelFile model = ModelFile.Read(parse.GetValue(Model)!);
            return (model, ModelColumns(DataTable.Read(parse.GetValue(File), notes, model.Options.Missing), model, parse.GetValue(Columns)));
        }
    }

    private static Argument<string?> DataArgument() => new("FILE")
    {
        Description = "CSV (header optional), .npy (floats, integers or booleans; C or Fortran order) or Parquet (numeric columns); default the embedded Old Faithful data.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static Argument<string> ModelArgument() => new("MODEL") { Description = "A model file written by emk fit --output or emk select --output." };

    private static Option<string?> ColumnsOption(string description) => new("--columns") { Description = description };

    private static Option<string?> OutputOption(string description) => new("--output", "-o") { Description = description };

    /// <summary>The model's feature columns of a data table: --columns if given, else the model's names, else every column when the count matches.</summary>
    private static DataTable ModelColumns(DataTable data, ModelFile model, string? columns)
    {
        DataTable chosen = columns is not null
            ? data.Select(columns)
            : model.Columns.All(c => data.Columns.Contains(c)) ? data.Select(string.Join(",", model.Columns)) : data;
        if (chosen.Columns.Length != model.Features)
        {
            throw new UsageException(
                $"{data.Source} has {chosen.Columns.Length} columns ({Quoted.List(chosen.Columns)}) but the model has {model.Features} features ({Quoted.List(model.Columns)}); choose them with --columns.");
        }

        return chosen;
    }

    /// <summary>"1..9", "2,3,5", "4": every K asked for, checked against the rows before any range is expanded.</summary>
    private static int[] ComponentList(string text, int rows)
    {
        int Parse(string s) => int.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1
            ? k
            : throw new UsageException($"--components: '{Quoted.Of(s.Trim())}' is not a positive whole number (give 1..9, 2,3,5 or 4).");
        var ranges = new List<(int From, int To)>();
        foreach (string part in text.Split(','))
        {
            int range = part.IndexOf("..", StringComparison.Ordinal);
            (int from, int to) = range < 0 ? (Parse(part), Parse(part)) : (Parse(part[..range]), Parse(part[(range + 2)..]));
            if (to < from)
            {
                throw new UsageException($"--components: the range {Quoted.Of(part.Trim())} is empty.");
            }

            ranges.Add((from, to));
        }

        int largest = ranges.Max(r => r.To);
        if (largest > rows)
        {
            throw new UsageException($"--components goes up to {largest}, but the data have {rows} rows; a mixture needs at least as many points as components.");
        }

        return [.. ranges.SelectMany(r => Enumerable.Range(r.From, r.To - r.From + 1)).Distinct().Order()];
    }

    private static (CovarianceType Type, int? Factors, ParsimoniousModel? Parameterization)[] CovarianceList(string text, int features) => text.Trim() switch
    {
        "all" => [(CovarianceType.Full, null, null), (CovarianceType.Tied, null, null), (CovarianceType.Diagonal, null, null), (CovarianceType.Spherical, null, null)],
        "mclust" => features == 1
            ? [(CovarianceType.Full, null, ParsimoniousModel.E), (CovarianceType.Full, null, ParsimoniousModel.V)]
            : Enum.GetValues<ParsimoniousModel>().Where(m => m is not (ParsimoniousModel.E or ParsimoniousModel.V)).Select(m => (CovarianceType.Full, (int?)null, (ParsimoniousModel?)m)).ToArray(),
        _ => text.Split(',').Select(t => Names.CovarianceChoice(t.Trim(), "--covariance")).Distinct().ToArray(),
    };

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string name) => name.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : name;
}
