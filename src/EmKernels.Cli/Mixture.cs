using System.Numerics;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>A library model seen through double arrays, whatever precision it evaluates in.</summary>
internal interface IMixture
{
    int Components { get; }

    int ParameterCount { get; }

    /// <summary>Labels, and with <paramref name="probabilities"/> the points × K posterior probabilities (row-major), in one pass.</summary>
    (int[] Labels, double[]? Probabilities) Predict(double[] data, int points, bool probabilities, int? threads = null);

    double[] ScoreSamples(double[] data, int points);

    /// <summary>Draws labels.Length points into <paramref name="points"/> (row-major), continuing <paramref name="random"/>'s sequence.</summary>
    void Sample(Span<double> points, Span<int> labels, Random random);
}

/// <inheritdoc/>
internal sealed class Mixture<T>(MixtureModel<T> model) : IMixture
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The library model.</summary>
    public MixtureModel<T> Model => model;

    public int Components => model.Components;

    public int ParameterCount => model.ParameterCount;

    public (int[] Labels, double[]? Probabilities) Predict(double[] data, int points, bool probabilities, int? threads = null)
    {
        int[] labels = new int[points];
        T[]? responsibilities = probabilities ? new T[points * model.Components] : null;
        model.Evaluate(Convert(data), points, default, responsibilities, labels, threads ?? Environment.ProcessorCount);
        return (labels, responsibilities is null ? null : Widen(responsibilities));
    }

    public double[] ScoreSamples(double[] data, int points) => model.ScoreSamples(Convert(data), points);

    public void Sample(Span<double> points, Span<int> labels, Random random)
    {
        if (typeof(T) == typeof(double))
        {
            model.Sample(System.Runtime.InteropServices.MemoryMarshal.Cast<double, T>(points), labels, random);
            return;
        }

        T[] drawn = new T[labels.Length * model.Features];
        model.Sample(drawn, labels, random);
        for (int i = 0; i < drawn.Length; i++)
        {
            points[i] = double.CreateTruncating(drawn[i]);
        }
    }

    public static T[] Convert(double[] data) => typeof(T) == typeof(double) ? (T[])(object)data : data.Select(T.CreateTruncating).ToArray();

    private static double[] Widen(T[] values) => typeof(T) == typeof(double) ? (double[])(object)values : values.Select(double.CreateTruncating).ToArray();
}

/// <summary>
/// A variational Bayesian Gaussian mixture: labels and probabilities from the variational E-step, scores from the posterior
/// predictive (a Student t mixture), samples from the mixture of posterior means.
/// </summary>
internal sealed class VariationalMixture<T>(BayesianGaussianMixtureModel<T> model) : IMixture
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Mixture<T> _posteriorMean = new(model.PosteriorMeanMixture());

    public BayesianGaussianMixtureModel<T> Model => model;

    public int Components => model.Components;

    public int ParameterCount => _posteriorMean.ParameterCount;

    public (int[] Labels, double[]? Probabilities) Predict(double[] data, int points, bool probabilities, int? threads = null)
    {
        T[] x = Mixture<T>.Convert(data);
        int[] labels = model.Predict(x, points);
        return (labels, probabilities ? model.PredictProbabilities(x, points).Select(double.CreateTruncating).ToArray() : null);
    }

    public double[] ScoreSamples(double[] data, int points) => model.ScoreSamples(Mixture<T>.Convert(data), points);

    public void Sample(Span<double> points, Span<int> labels, Random random) => _posteriorMean.Sample(points, labels, random);
}
