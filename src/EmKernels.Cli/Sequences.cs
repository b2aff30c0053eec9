using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EmKernels.Mixtures;
using EmKernels.Sequences;

namespace EmKernels.Cli;

/// <summary>
/// <c>emk hmm fit | decode | score | sample</c>: hidden Markov models of the rows of a file, one sequence per run of
/// equal values of <c>--sequence-column</c>, or of the lengths in <c>--lengths</c>, or all rows one sequence. The same
/// bad-input contract as the mixture commands: one line on stderr naming the file, line or option, exit code 2, no output.
/// </summary>
internal static class SequenceCommands
{
    /// <summary>Largest K a model file may declare (K × K transitions are read into memory).</summary>
    private const int MaximumStates = 4096;

    public static Command Hmm(Terminal terminal)
    {
        var command = new Command("hmm", "Hidden Markov models by Baum–Welch: fit, decode (Viterbi), score, sample.");
        command.Add(Fit(terminal));
        command.Add(Decode(terminal));
        command.Add(Score(terminal));
        command.Add(Sample(terminal));
        return command;
    }

    private sealed class SequenceOptions
    {
        public SequenceOptions(Command command)
        {
            command.Add(Column);
            command.Add(Lengths);
            command.Add(Columns);
        }

        public Option<string?> Column { get; } = new("--sequence-column") { Description = "A column whose runs of equal values are the sequences (rows of a sequence together, in order); it is not an observation." };

        public Option<string?> Lengths { get; } = new("--lengths") { Description = "A text file of sequence lengths, one per line, summing to the number of rows." };

        public Option<string?> Columns { get; } = new("--columns") { Description = "The observation columns, by name or 1-based number, comma-separated (default: every other column)." };

        /// <summary>The observations and their sequence lengths.</summary>
        public (DataTable Observations, int[] Lengths) Read(ParseResult parse, string? path, TextWriter notes, string[]? modelColumns = null)
        {
            DataTable table = DataTable.Read(path, notes);
            string? column = parse.GetValue(Column);
            string? lengthsPath = parse.GetValue(Lengths);
            if (column is not null && lengthsPath is not null)
            {
                throw new UsageException("Give --sequence-column or --lengths, not both.");
            }

            int[] lengths;
            int idColumn = -1;
            if (column is not null)
            {
                idColumn = table.ColumnIndex(column.Trim());
                lengths = Runs(table, idColumn);
            }
            else
            {
                lengths = lengthsPath is null ? [table.Rows] : LengthsFile(lengthsPath, table.Rows, table.Source);
            }

            string? chosen = parse.GetValue(Columns);
            DataTable observations = chosen is not null
                ? table.Select(chosen)
                : modelColumns is not null && modelColumns.All(c => table.Columns.Contains(c))
                    ? table.Select(string.Join(",", modelColumns))
                    : table.Select(Enumerable.Range(0, table.Columns.Length).Where(j => j != idColumn).ToArray());
            if (idColumn >= 0 && observations.Columns.Contains(table.Columns[idColumn]) && chosen is not null)
            {
                throw new UsageException($"--columns includes the sequence column '{Quoted.Of(table.Columns[idColumn])}'.");
            }

            if (observations.Rows < 1 || observations.Columns.Length < 1)
            {
                throw new UsageException($"{table.Source} has no observations.");
            }

            return (observations, lengths);
        }

        private static int[] Runs(DataTable table, int column)
        {
            var lengths = new List<int>();
            var seen = new HashSet<double>();
            for (int i = 0; i < table.Rows; i++)
            {
                double id = table[i, column];
                if (i > 0 && id.Equals(table[i - 1, column]))
                {
                    lengths[^1]++;
                    continue;
                }

                if (!seen.Add(id))
                {
                    throw new UsageException($"{table.Source}: {table.Locate(i)}: sequence {id.ToString(CultureInfo.InvariantCulture)} appears again after other sequences; the rows of a sequence must be together.");
                }

                lengths.Add(1);
            }

            return [.. lengths];
        }

        private static int[] LengthsFile(string path, int rows, string source)
        {
            var lengths = new List<int>();
            long total = 0;
            int line = 0;
            try
            {
                foreach (string text in File.ReadLines(path))
                {
                    line++;
                    if (string.IsNullOrWhiteSpace(text))
                    {
                        continue;
                    }

                    if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length < 1)
                    {
                        throw new UsageException($"{path}: line {line}: '{Quoted.Of(text.Trim())}' is not a sequence length (a whole number ≥ 1).");
                    }

                    total += length;
                    if (total > rows)
                    {
                        throw new UsageException($"{path}: line {line}: the lengths so far sum to {total}, more than the {rows} rows of {source}.");
                    }

                    lengths.Add(length);
                }
            }
            catch (IOException e)
            {
                throw new UsageException($"{path}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                throw new UsageException($"{path}: {e.Message}");
            }

            if (total != rows)
            {
                throw new UsageException($"{path}: the lengths sum to {total}; {source} has {rows} rows.");
            }

            return [.. lengths];
        }
    }

    private static Command Fit(Terminal terminal)
    {
        var command = new Command("fit", "Fit a hidden Markov model to the sequences of FILE by Baum–Welch.");
        var file = new Argument<string?>("FILE") { Description = "CSV (header optional), .npy or Parquet; default the embedded Old Faithful data (one sequence).", Arity = ArgumentArity.ZeroOrOne };
        var states = new Option<int>("--states", "-k") { Description = "Number of hidden states K.", DefaultValueFactory = _ => 2 };
        var emission = new Option<string>("--emission") { Description = "gaussian, categorical, bernoulli or poisson.", DefaultValueFactory = _ => "gaussian" };
        var covariance = new Option<string>("--covariance") { Description = "Gaussian emissions: full, diag, tied or spherical.", DefaultValueFactory = _ => "diag" };
        var categories = new Option<int?>("--categories") { Description = "Categorical emissions: the number of categories C (default: the largest code + 1)." };
        var maxIterations = new Option<int>("--max-iter") { Description = "Baum–Welch iterations at most.", DefaultValueFactory = _ => 100 };
        var tolerance = new Option<double>("--tol") { Description = "Stop when the mean log-likelihood per observation changes by less than this.", DefaultValueFactory = _ => 1e-6 };
        var restarts = new Option<int>("--n-init") { Description = "Runs from different k-means starts; the best is kept.", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Random seed (the same seed gives the same fit).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "Threads at most (default: every core; results do not depend on it)." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the fitted model (JSON) to this file." };
        foreach (Option option in (Option[])[states, emission, covariance, categories, maxIterations, tolerance, restarts, seed, threads, output])
        {
            command.Add(option);
        }

        var sequences = new SequenceOptions(command);
        command.Add(file);
        command.SetAction(parse =>
        {
            int k = parse.GetValue(states);
            if (k < 1)
            {
                throw new UsageException("--states must be at least 1.");
            }

            if (parse.GetValue(maxIterations) < 0 || !(parse.GetValue(tolerance) >= 0) || double.IsInfinity(parse.GetValue(tolerance)) || parse.GetValue(restarts) < 1 || parse.GetValue(threads) is < 1)
            {
                throw new UsageException("--max-iter ≥ 0, --tol finite and ≥ 0, --n-init ≥ 1 and --threads ≥ 1, please.");
            }

            HiddenMarkovEmission kind = ParseEmission(parse.GetValue(emission)!);
            CovarianceType type = ParseCovariance(parse.GetValue(covariance)!);
            (DataTable data, int[] lengths) = sequences.Read(parse, parse.GetValue(file), terminal.Notes);
            if (k > data.Rows)
            {
                throw new UsageException($"--states is {k}, more than the {data.Rows} observations.");
            }

            int c = kind == HiddenMarkovEmission.Categorical ? Categories(data, parse.GetValue(categories)) : 2;
            var options = new HiddenMarkovOptions
            {
                States = k,
                Emission = kind,
                CovarianceType = type,
                Categories = c,
                MaxIterations = parse.GetValue(maxIterations),
                Tolerance = parse.GetValue(tolerance),
                Restarts = parse.GetValue(restarts),
                Seed = parse.GetValue(seed),
                MaxDegreeOfParallelism = parse.GetValue(threads),
            };
            HiddenMarkovFit<double> model = UsageErrors.Of(data.Source, () => terminal.WithProgress($"fitting a {k}-state HMM", options.Restarts, verbose: false, progress =>
                new HiddenMarkov<double>(options with { Progress = progress }).Fit(data.Values, data.Rows, data.Columns.Length, lengths)));
            string? outputPath = parse.GetValue(output);
            if (outputPath is not null)
            {
                OutputFile.Write(outputPath, stream => WriteModel(stream, model, data.Columns));
            }

            terminal.Heading($"hidden Markov model, {k} states, {kind.ToString().ToLowerInvariant()} emissions: {data.Rows} observations in {lengths.Length} sequence{(lengths.Length == 1 ? "" : "s")}");
            terminal.Facts(
            [
                ("mean log-likelihood", Format.Number(model.MeanLogLikelihood)),
                ("iterations", $"{model.Iterations}{(model.Converged ? " (converged)" : " (not converged)")}"),
                ("BIC", Format.Number(model.TrainingBic)),
                ("AIC", Format.Number(model.TrainingAic)),
            ]);
            terminal.Table(
                ["state", "start", .. Enumerable.Range(0, k).Select(j => $"→ {j}"), .. kind == HiddenMarkovEmission.Gaussian ? data.Columns.Select(n => $"mean {n}") : []],
                Enumerable.Range(0, k).Select(i => StateRow(model, i, kind == HiddenMarkovEmission.Gaussian)).ToArray(),
                textColumns: 1);
            if (outputPath is not null)
            {
                terminal.Line($"model written to {outputPath}");
            }

            return 0;
        });
        return command;
    }

    private static string[] StateRow(HiddenMarkovFit<double> model, int state, bool gaussian)
    {
        int k = model.States, d = model.Features;
        var row = new List<string> { state.ToString(CultureInfo.InvariantCulture), Format.Number(model.StartProbabilities[state]) };
        for (int j = 0; j < k; j++)
        {
            row.Add(Format.Number(model.Transitions[state * k + j]));
        }

        if (gaussian)
        {
            for (int f = 0; f < d; f++)
            {
                row.Add(Format.Number(model.Means[state * d + f]));
            }
        }

        return [.. row];
    }

    private static Command Decode(Terminal terminal)
    {
        var command = new Command("decode", "The most likely state of every row of FILE under a model (Viterbi, per sequence); CSV: state (and p0 … pK−1 with --proba).");
        var model = new Argument<string>("MODEL") { Description = "A model file written by emk hmm fit --output." };
        var file = new Argument<string?>("FILE") { Description = "CSV (header optional), .npy or Parquet.", Arity = ArgumentArity.ZeroOrOne };
        var proba = new Option<bool>("--proba") { Description = "Also write each state's posterior probability (forward–backward)." };
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of stdout." };
        command.Add(model);
        command.Add(file);
        command.Add(proba);
        command.Add(output);
        var sequences = new SequenceOptions(command);
        command.SetAction(parse =>
        {
            (HiddenMarkovFit<double> fit, string[] columns) = ReadModel(parse.GetValue(model)!);
            (DataTable data, int[] lengths) = ObservationsFor(sequences, parse, parse.GetValue(file), terminal, fit, columns);
            int[] path = UsageErrors.Of(data.Source, () => fit.Decode(data.Values, data.Rows, lengths, out _));
            double[]? posteriors = parse.GetValue(proba) ? UsageErrors.Of(data.Source, () => fit.PredictProbabilities(data.Values, data.Rows, lengths)) : null;
            int k = fit.States;
            OutputFile.WriteText(parse.GetValue(output), terminal.Out, writer =>
            {
                writer.WriteLine(posteriors is null ? "state" : "state," + string.Join(",", Enumerable.Range(0, k).Select(j => $"p{j}")));
                for (int i = 0; i < data.Rows; i++)
                {
                    writer.Write(path[i].ToString(CultureInfo.InvariantCulture));
                    if (posteriors is not null)
                    {
                        for (int j = 0; j < k; j++)
                        {
                            writer.Write(',');
                            writer.Write(posteriors[i * k + j].ToString("R", CultureInfo.InvariantCulture));
                        }
                    }

                    writer.WriteLine();
                }
            });
            return 0;
        });
        return command;
    }

    private static Command Score(Terminal terminal)
    {
        var command = new Command("score", "The mean log-likelihood per observation of FILE's sequences under a model (with --per-point: each row's log p(x_t | x_<t), as CSV).");
        var model = new Argument<string>("MODEL") { Description = "A model file written by emk hmm fit --output." };
        var file = new Argument<string?>("FILE") { Description = "CSV (header optional), .npy or Parquet.", Arity = ArgumentArity.ZeroOrOne };
        var perPoint = new Option<bool>("--per-point") { Description = "Write every row's term instead of the mean." };
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of stdout." };
        command.Add(model);
        command.Add(file);
        command.Add(perPoint);
        command.Add(output);
        var sequences = new SequenceOptions(command);
        command.SetAction(parse =>
        {
            (HiddenMarkovFit<double> fit, string[] columns) = ReadModel(parse.GetValue(model)!);
            (DataTable data, int[] lengths) = ObservationsFor(sequences, parse, parse.GetValue(file), terminal, fit, columns);
            double[] scores = UsageErrors.Of(data.Source, () => fit.ScoreSamples(data.Values, data.Rows, lengths));
            OutputFile.WriteText(parse.GetValue(output), terminal.Out, writer =>
            {
                if (!parse.GetValue(perPoint))
                {
                    writer.WriteLine(scores.Average().ToString("R", CultureInfo.InvariantCulture));
                    return;
                }

                writer.WriteLine("log_likelihood");
                foreach (double score in scores)
                {
                    writer.WriteLine(score.ToString("R", CultureInfo.InvariantCulture));
                }
            });
            return 0;
        });
        return command;
    }

    private static Command Sample(Terminal terminal)
    {
        var command = new Command("sample", "Draw one sequence from a model (CSV: the model's columns and the state of each row).");
        var model = new Argument<string>("MODEL") { Description = "A model file written by emk hmm fit --output." };
        var count = new Option<int>("--n", "-n") { Description = "How many observations.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed draws the same sequence.", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--output", "-o") { Description = "Write the CSV to this file instead of stdout." };
        command.Add(model);
        command.Add(count);
        command.Add(seed);
        command.Add(output);
        command.SetAction(parse =>
        {
            (HiddenMarkovFit<double> fit, string[] columns) = ReadModel(parse.GetValue(model)!);
            int n = parse.GetValue(count);
            if (n < 0 || (long)n * fit.Features > 100_000_000)
            {
                throw new UsageException("--n must be in 0 … 100,000,000 / the number of columns.");
            }

            (double[] values, int[] states) = fit.Sample(n, parse.GetValue(seed));
            int d = fit.Features;
            OutputFile.WriteText(parse.GetValue(output), terminal.Out, writer =>
            {
                writer.WriteLine(string.Join(",", columns.Select(CsvName)) + ",state");
                for (int i = 0; i < n; i++)
                {
                    for (int j = 0; j < d; j++)
                    {
                        writer.Write(values[i * d + j].ToString("R", CultureInfo.InvariantCulture));
                        writer.Write(',');
                    }

                    writer.WriteLine(states[i].ToString(CultureInfo.InvariantCulture));
                }
            });
            return 0;
        });
        return command;
    }

    private static string CsvName(string name) => name.Contains(',') || name.Contains('"') ? "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : name;

    private static (DataTable Data, int[] Lengths) ObservationsFor(SequenceOptions sequences, ParseResult parse, string? file, Terminal terminal, HiddenMarkovFit<double> fit, string[] columns)
    {
        (DataTable data, int[] lengths) = sequences.Read(parse, file, terminal.Notes, columns);
        if (data.Columns.Length != fit.Features)
        {
            throw new UsageException($"{data.Source} has {data.Columns.Length} observation columns ({Quoted.List(data.Columns)}) but the model has {fit.Features} ({Quoted.List(columns)}); choose them with --columns.");
        }

        return (data, lengths);
    }

    private static int Categories(DataTable data, int? given)
    {
        double largest = 0;
        for (int i = 0; i < data.Values.Length; i++)
        {
            double v = data.Values[i];
            if (!(v >= 0) || v != Math.Floor(v) || v > 1_000_000)
            {
                throw new UsageException($"{data.Source}: {data.Locate(i / data.Columns.Length)}: {v.ToString(CultureInfo.InvariantCulture)} is not a category code (a whole number 0 … C − 1).");
            }

            largest = Math.Max(largest, v);
        }

        int c = given ?? Math.Max(2, (int)largest + 1);
        if (c < 2 || c <= largest)
        {
            throw new UsageException($"--categories is {c}; it must be at least 2 and above the largest code ({largest.ToString(CultureInfo.InvariantCulture)}).");
        }

        return c;
    }

    private static HiddenMarkovEmission ParseEmission(string value) => value.Trim().ToLowerInvariant() switch
    {
        "gaussian" => HiddenMarkovEmission.Gaussian,
        "categorical" => HiddenMarkovEmission.Categorical,
        "bernoulli" => HiddenMarkovEmission.Bernoulli,
        "poisson" => HiddenMarkovEmission.Poisson,
        _ => throw new UsageException($"--emission is '{Quoted.Of(value)}'; use gaussian, categorical, bernoulli or poisson."),
    };

    private static CovarianceType ParseCovariance(string value) => value.Trim().ToLowerInvariant() switch
    {
        "full" => CovarianceType.Full,
        "diag" or "diagonal" => CovarianceType.Diagonal,
        "tied" => CovarianceType.Tied,
        "spherical" => CovarianceType.Spherical,
        _ => throw new UsageException($"--covariance is '{Quoted.Of(value)}'; use full, diag, tied or spherical."),
    };

    private static string CovarianceName(CovarianceType type) => type switch
    {
        CovarianceType.Full => "full",
        CovarianceType.Diagonal => "diag",
        CovarianceType.Tied => "tied",
        _ => "spherical",
    };

    private static void WriteModel(Stream stream, HiddenMarkovFit<double> model, string[] columns)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        HiddenMarkovOptions o = model.Options;
        json.WriteStartObject();
        json.WriteString("format", "emk-hmm");
        json.WriteNumber("version", 1);
        json.WriteString("emission", o.Emission.ToString().ToLowerInvariant());
        if (o.Emission == HiddenMarkovEmission.Gaussian)
        {
            json.WriteString("covariance_type", CovarianceName(o.CovarianceType));
            json.WriteNumber("reg_covar", o.RegCovar);
        }

        if (o.Emission == HiddenMarkovEmission.Categorical)
        {
            json.WriteNumber("categories", o.Categories);
        }

        json.WriteNumber("states", model.States);
        JsonFields.Strings(json, "columns", columns);
        JsonFields.Numbers(json, "startprob", model.StartProbabilities);
        JsonFields.Numbers(json, "transmat", model.Transitions);
        if (o.Emission == HiddenMarkovEmission.Gaussian)
        {
            JsonFields.Numbers(json, "means", model.Means);
            JsonFields.Numbers(json, "covariances", model.Covariances);
        }
        else
        {
            JsonFields.Numbers(json, o.Emission == HiddenMarkovEmission.Poisson ? "rates" : "probs", model.EmissionParameters);
        }

        json.WriteNumber("mean_log_likelihood", model.MeanLogLikelihood);
        JsonFields.Numbers(json, "mean_log_likelihood_history", model.MeanLogLikelihoodHistory);
        json.WriteNumber("iterations", model.Iterations);
        json.WriteBoolean("converged", model.Converged);
        json.WriteNumber("training_points", model.TrainingPoints);
        json.WriteNumber("bic", model.TrainingBic);
        json.WriteNumber("aic", model.TrainingAic);
        json.WriteEndObject();
    }

    /// <summary>A model file written by <c>emk hmm fit</c>, every field checked (a damaged file is a usage error, never a crash).</summary>
    private static (HiddenMarkovFit<double> Model, string[] Columns) ReadModel(string path)
    {
        JsonDocument document;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > 256L << 20)
            {
                throw new UsageException($"{path}: {info.Length} bytes is too large for a model file.");
            }

            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            {
                bytes = bytes[3..]; // a UTF-8 byte-order mark, as some editors write
            }

            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            // Where, not what: the reader's message would quote the file.
            throw new UsageException($"{path}: not a model file: it is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
        catch (IOException e)
        {
            throw new UsageException($"{path}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UsageException($"{path}: {e.Message}");
        }

        using (document)
        {
            try
            {
                return Interpret(document.RootElement, path);
            }
            catch (InvalidOperationException)
            {
                throw new UsageException($"{path}: not a model file: a string in it is not valid UTF-8.");
            }
        }
    }

    /// <summary>The fields of a parsed emk-hmm file, checked.</summary>
    private static (HiddenMarkovFit<double> Model, string[] Columns) Interpret(JsonElement root, string path)
    {
        string Text(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.String
            ? e.GetString()!
            : throw new UsageException($"{path}: the field '{name}' is missing or not a string.");
        int Integer(string name, int low, int high) => root.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) && v >= low && v <= high
            ? v
            : throw new UsageException($"{path}: the field '{name}' is missing or not a whole number in {low} … {high}.");
        double[] Array(string name, long length)
        {
            if (!root.TryGetProperty(name, out JsonElement e) || e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != length)
            {
                throw new UsageException($"{path}: the field '{name}' is missing or not an array of {length} numbers.");
            }

            double[] values = new double[length];
            int i = 0;
            foreach (JsonElement item in e.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetDouble(out values[i]) || !double.IsFinite(values[i]))
                {
                    throw new UsageException($"{path}: '{name}' holds a value that is not a finite number.");
                }

                i++;
            }

            return values;
        }

        if (Text("format") != "emk-hmm")
        {
            throw new UsageException($"{path}: not an emk-hmm model file (format '{Quoted.Of(Text("format"))}').");
        }

        Integer("version", 1, 1);
        HiddenMarkovEmission kind = ParseEmissionField(Text("emission"), path);
        int k = Integer("states", 1, MaximumStates);
        if (!root.TryGetProperty("columns", out JsonElement columnsElement) || columnsElement.ValueKind != JsonValueKind.Array || columnsElement.GetArrayLength() is < 1 or > 100_000
            || columnsElement.EnumerateArray().Any(c => c.ValueKind != JsonValueKind.String))
        {
            throw new UsageException($"{path}: the field 'columns' is missing or not an array of column names.");
        }

        string[] columns = columnsElement.EnumerateArray().Select(c => c.GetString()!).ToArray();
        int d = columns.Length;
        var options = new HiddenMarkovOptions { States = k, Emission = kind };
        double[] start = Array("startprob", k);
        double[] transitions = Array("transmat", (long)k * k);
        try
        {
            switch (kind)
            {
                case HiddenMarkovEmission.Gaussian:
                {
                    CovarianceType type = ParseCovarianceField(Text("covariance_type"), path);
                    long size = type switch { CovarianceType.Full => (long)k * d * d, CovarianceType.Diagonal => (long)k * d, CovarianceType.Tied => (long)d * d, _ => k };
                    if (size > 50_000_000)
                    {
                        throw new UsageException($"{path}: {k} states of {d} columns are too many for a model file.");
                    }

                    double regularization = root.TryGetProperty("reg_covar", out JsonElement r) && r.ValueKind == JsonValueKind.Number && r.GetDouble() >= 0 ? r.GetDouble() : 1e-6;
                    options = options with { CovarianceType = type, RegCovar = regularization };
                    return (HiddenMarkovFit<double>.FromParameters(options, d, start, transitions, means: Array("means", (long)k * d), covariances: Array("covariances", size)), columns);
                }

                case HiddenMarkovEmission.Categorical:
                {
                    int c = Integer("categories", 2, 1_000_000);
                    if ((long)k * d * c > 50_000_000)
                    {
                        throw new UsageException($"{path}: {k} × {d} × {c} probabilities are too many for a model file.");
                    }

                    options = options with { Categories = c };
                    return (HiddenMarkovFit<double>.FromParameters(options, d, start, transitions, Array("probs", (long)k * d * c)), columns);
                }

                default:
                    if ((long)k * d > 50_000_000)
                    {
                        throw new UsageException($"{path}: {k} states of {d} columns are too many for a model file.");
                    }

                    return (HiddenMarkovFit<double>.FromParameters(options, d, start, transitions, Array(kind == HiddenMarkovEmission.Poisson ? "rates" : "probs", (long)k * d)), columns);
            }
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{path}: {Messages.Of(e)}");
        }
    }

    private static HiddenMarkovEmission ParseEmissionField(string value, string path) => value switch
    {
        "gaussian" => HiddenMarkovEmission.Gaussian,
        "categorical" => HiddenMarkovEmission.Categorical,
        "bernoulli" => HiddenMarkovEmission.Bernoulli,
        "poisson" => HiddenMarkovEmission.Poisson,
        _ => throw new UsageException($"{path}: unknown emission '{Quoted.Of(value)}'."),
    };

    private static CovarianceType ParseCovarianceField(string value, string path) => value switch
    {
        "full" => CovarianceType.Full,
        "diag" => CovarianceType.Diagonal,
        "tied" => CovarianceType.Tied,
        "spherical" => CovarianceType.Spherical,
        _ => throw new UsageException($"{path}: unknown covariance type '{Quoted.Of(value)}'."),
    };
}
