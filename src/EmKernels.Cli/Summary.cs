using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>What a person sees after a fit: the fit's numbers and one row per component.</summary>
internal static class Summary
{
    /// <summary>Up to this many features, the component table shows every feature; beyond, summaries.</summary>
    private const int WideFeatures = 6;

    public static void Write(Terminal terminal, ModelFile model)
    {
        FitSummary fit = model.Fit;
        string columns = model.Features <= 8 ? string.Join(", ", model.Columns) : $"{string.Join(", ", model.Columns.Take(6))}, … {model.Columns[^1]}";
        string title = model.Variational is { } vb
            ? $"Variational Bayesian Gaussian mixture ({(vb.WeightPrior == WeightPrior.DirichletProcess ? "Dirichlet process" : "Dirichlet distribution")}), K = {model.Components}, {Names.Of(model.Covariance!.Value)} covariance"
            : Names.Describe(model.Model, model.Covariance, model.Gaussians, model.Factors, model.Parameterization) + (model.NoiseLogDensity is null ? "" : " and mclust's noise component");
        terminal.Heading($"{title} on {fit.Data} ({fit.Points} × {model.Features}: {columns}){(model.Float32 ? ", float32" : "")}");
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        terminal.Facts(model.Variational is { } variational
            ?
            [
                ("ELBO per point", Format.Number(variational.ElboPerPoint)),
                ("scikit-learn's lower bound", Format.Number(variational.ScikitLearnLowerBound)),
                ("effective components", string.Create(invariant, $"{variational.EffectiveComponents} of {model.Components} (expected count ≥ {variational.EffectiveCountThreshold})")),
                ("weight concentration", Format.Number(variational.Prior.WeightConcentration)),
                ("iterations", fit.Iterations.ToString(invariant)),
                ("converged", fit.Converged ? "yes" : $"no (stopped at --max-iter {model.Options.MaxIterations})"),
                ("time", Format.Time(fit.Time)),
            ]
            : model.Online is { } online
            ?
            [
                ("mean log-likelihood", Format.Number(fit.MeanLogLikelihood)),
                ("BIC", Format.Fixed(fit.Bic, 2)),
                ("AIC", Format.Fixed(fit.Aic, 2)),
                ("online", string.Create(invariant, $"{online.Epoch} epochs, {online.Steps} steps of {model.Options.BatchSize} points, κ = {model.Options.Kappa}, t0 = {model.Options.StepOffset}")),
                ("time", Format.Time(fit.Time)),
            ]
            :
            [
                ("mean log-likelihood", Format.Number(fit.MeanLogLikelihood)),
                ("BIC", Format.Fixed(fit.Bic, 2)),
                ("AIC", Format.Fixed(fit.Aic, 2)),
                ("iterations", fit.Iterations.ToString(invariant)),
                ("converged", fit.Converged ? "yes" : $"no (stopped at --max-iter {model.Options.MaxIterations})"),
                .. fit.MonteCarlo is { } note ? [("Monte Carlo", note)] : Array.Empty<(string, string)>(),
                ("time", Format.Time(fit.Time)),
            ]);
        terminal.Line();
        (List<string> headers, List<string[]> rows) = Names.IsContinuous(model.Model) ? Gaussian(model) : Discrete(model);
        terminal.Table(headers, rows);
        if (model.Variational is { } hidden && hidden.EffectiveComponents < model.Components)
        {
            terminal.Line($"({model.Components - hidden.EffectiveComponents} components with an expected count below {hidden.EffectiveCountThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture)} are not shown; the model file has them all.)");
        }

        if (model.Features > WideFeatures)
        {
            terminal.Line($"({model.Features} features: every mean and covariance is in the model file written by --output.)");
        }
    }

    private static (List<string>, List<string[]>) Gaussian(ModelFile model)
    {
        int d = model.Features;
        bool factor = model.Factors is not null;
        bool correlated = factor || model.Covariance is CovarianceType.Full or CovarianceType.Tied;
        bool t = model.Model == "t";
        var headers = new List<string> { "component", "weight" };
        if (t)
        {
            headers.Add("ν");
        }

        if (model.Variational is not null)
        {
            headers.Add("expected count");
        }

        if (d <= WideFeatures)
        {
            headers.AddRange(model.Columns.Select(c => t ? $"location {c}" : $"mean {c}"));
            headers.AddRange(model.Columns.Select(c => t ? $"scale {c}" : $"sd {c}"));
            if (correlated && d >= 2)
            {
                headers.Add(d == 2 ? "correlation" : "max |correlation|");
            }
        }
        else
        {
            headers.AddRange(["|mean|", "rms sd", "log det Σ"]);
            if (correlated)
            {
                headers.Add("max |correlation|");
            }
        }

        var rows = new List<string[]>();
        for (int k = 0; k < model.Gaussians; k++)
        {
            // Diagonal and spherical covariances are never made D × D (D may be in the tens of thousands).
            // They are read as stored (Σ·2^−2q): correlations do not depend on q, standard deviations are scaled by 2^q.
            double[] covariance = correlated ? (factor ? model.FactorsInDouble().ComponentCovariance(k) : StoredCovariance(model, k)) : [];
            int q = model.CovarianceScaleExponent;
            double Variance(int a) => model.Covariance switch
            {
                CovarianceType.Diagonal => model.Parameters[k * d + a],
                CovarianceType.Spherical => model.Parameters[k],
                _ => covariance[a * d + a],
            };
            if (model.Variational is { } vb && vb.ExpectedCounts[k] < vb.EffectiveCountThreshold)
            {
                continue; // a component the data left empty
            }

            var row = new List<string> { k.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Fixed(model.Weights[k], 4) };
            if (model.Variational is { } state)
            {
                row.Add(Format.Fixed(state.ExpectedCounts[k], 1));
            }

            if (t)
            {
                row.Add(Format.Number(model.DegreesOfFreedom![k]));
            }

            ReadOnlySpan<double> mean = model.Means.AsSpan(k * d, d);
            double maxCorrelation = 0, signedCorrelation = 0;
            for (int a = 0; correlated && a < d; a++)
            {
                for (int b = a + 1; b < d; b++)
                {
                    double r = covariance[a * d + b] / Math.Sqrt(covariance[a * d + a] * covariance[b * d + b]);
                    if (Math.Abs(r) > maxCorrelation)
                    {
                        maxCorrelation = Math.Abs(r);
                        signedCorrelation = r;
                    }
                }
            }

            if (d <= WideFeatures)
            {
                foreach (double m in mean)
                {
                    row.Add(Format.Number(m));
                }

                for (int a = 0; a < d; a++)
                {
                    row.Add(Format.Number(Math.ScaleB(Math.Sqrt(Variance(a)), q)));
                }

                if (correlated && d >= 2)
                {
                    row.Add(Format.Fixed(d == 2 ? signedCorrelation : maxCorrelation, 4));
                }
            }
            else
            {
                double norm = 0, trace = 0;
                for (int a = 0; a < d; a++)
                {
                    norm += mean[a] * mean[a];
                    trace += Variance(a);
                }

                row.Add(Format.Number(Math.Sqrt(norm)));
                row.Add(Format.Number(Math.ScaleB(Math.Sqrt(trace / d), q)));
                row.Add(Format.Number(factor ? model.FactorsInDouble().LogDeterminant(k) : GaussianModel(model).LogDeterminant(k)));
                if (correlated)
                {
                    row.Add(Format.Fixed(maxCorrelation, 4));
                }
            }

            rows.Add([.. row]);
        }

        if (model.NoiseLogDensity is { } logDensity)
        {
            // mclust's noise component: its weight, and its constant density 1/V in the mean's first column.
            string[] noise = Enumerable.Repeat("", headers.Count).ToArray();
            noise[0] = "noise";
            noise[1] = Format.Fixed(model.Weights[^1], 4);
            noise[2] = $"density 1/V = {Format.Number(Math.Exp(logDensity))}";
            rows.Add(noise);
        }

        return (headers, rows);
    }

    private static (List<string>, List<string[]>) Discrete(ModelFile model)
    {
        int d = model.Features, c = model.Categories;
        bool wide = d > WideFeatures;
        var headers = new List<string> { "component", "weight" };
        Func<string, string> name = model.Model switch
        {
            "bernoulli" => col => $"P({col} = 1)",
            "binomial" => col => $"p {col}",
            "poisson" => col => $"rate {col}",
            _ => col => $"mode {col} (p)",
        };
        if (wide)
        {
            headers.Add(model.Model switch
            {
                "bernoulli" => "mean P(x = 1)",
                "binomial" => "mean p",
                "poisson" => "mean rate",
                _ => "mean p of mode",
            });
        }
        else
        {
            headers.AddRange(model.Columns.Select(name));
        }

        var rows = new List<string[]>();
        for (int k = 0; k < model.Components; k++)
        {
            var row = new List<string> { k.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Fixed(model.Weights[k], 4) };
            double sum = 0;
            for (int j = 0; j < d; j++)
            {
                if (model.Model == "categorical")
                {
                    ReadOnlySpan<double> p = model.Parameters.AsSpan((k * d + j) * c, c);
                    int mode = 0;
                    for (int x = 1; x < c; x++)
                    {
                        mode = p[x] > p[mode] ? x : mode;
                    }

                    sum += p[mode];
                    if (!wide)
                    {
                        row.Add($"{mode} ({Format.Fixed(p[mode], 3)})");
                    }
                }
                else
                {
                    double value = model.Parameters[k * d + j];
                    sum += value;
                    if (!wide)
                    {
                        row.Add(Format.Number(value));
                    }
                }
            }

            if (wide)
            {
                row.Add(Format.Number(sum / d));
            }

            rows.Add([.. row]);
        }

        return (headers, rows);
    }

    /// <summary>Component k's covariance as stored (Σ·2^−2q) as a full D × D matrix, whatever the type.</summary>
    private static double[] StoredCovariance(ModelFile model, int k)
    {
        GaussianMixtureModel<double> gaussian = model.GaussianInDouble();
        double[] matrix = new double[model.Features * model.Features];
        for (int a = 0; a < model.Features; a++)
        {
            for (int b = 0; b < model.Features; b++)
            {
                matrix[a * model.Features + b] = model.Covariance switch
                {
                    CovarianceType.Full => gaussian.Covariances[(k * model.Features + a) * model.Features + b],
                    CovarianceType.Tied => gaussian.Covariances[a * model.Features + b],
                    CovarianceType.Diagonal => a == b ? gaussian.Covariances[k * model.Features + a] : 0,
                    _ => a == b ? gaussian.Covariances[k] : 0,
                };
            }
        }

        return matrix;
    }

    /// <summary>Component k's covariance as a full D × D matrix, whatever the type.</summary>
    public static double[] Covariance(ModelFile model, int k) =>
        model.Factors is not null ? model.FactorsInDouble().ComponentCovariance(k) : GaussianModel(model).ComponentCovariance(k);

    private static GaussianMixtureModel<double> GaussianModel(ModelFile model) => model.GaussianInDouble();
}
