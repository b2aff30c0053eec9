using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Tests.Infrastructure;

/// <summary>Mixture models of every built-in family with random parameters, and data to go with them.</summary>
public static class Models
{
    /// <summary>Every family the library has, by name.</summary>
    public static readonly string[] Families = ["full", "tied", "diag", "spherical", "bernoulli", "categorical", "binomial", "poisson", "exponential"];

    /// <summary>A mixture of K components of the family, with random (valid) parameters.</summary>
    public static FiniteMixture<T> Random<T>(string family, int components, int features, Random random)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ComponentFamily<T> components1 = family switch
        {
            "full" or "tied" or "diag" or "spherical" => GaussianComponents<T>.Create(Type(family), components, features),
            "bernoulli" => new BernoulliComponents<T>(components, features),
            "categorical" => new CategoricalComponents<T>(components, features, 4),
            "binomial" => new BinomialComponents<T>(components, features, 6),
            "poisson" => new PoissonComponents<T>(components, features),
            "exponential" => new ExponentialComponents<T>(components),
            _ => throw new ArgumentException(family),
        };
        Randomize(components1, random);
        var mixture = new FiniteMixture<T>(components1, MixtureInitialization.Current);
        double[] weights = Enumerable.Range(0, components).Select(_ => 0.2 + random.NextDouble()).ToArray();
        double total = weights.Sum();
        mixture.SetWeights(weights.Select(w => w / total).ToArray());
        return mixture;
    }

    /// <summary>Values that are valid data for the family: row-major N × D doubles.</summary>
    public static double[] Data(string family, int points, int features, Random random)
    {
        double[] x = new double[points * features];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = family switch
            {
                "bernoulli" => random.Next(2),
                "categorical" => random.Next(4),
                "binomial" => random.Next(7),
                "poisson" => random.Next(9),
                "exponential" => -Math.Log(1 - random.NextDouble()) * (1 + 3 * (i % 2)),
                _ => 5 * (i / features % 3) + SyntheticMixture.Normal(random),
            };
        }

        return x;
    }

    /// <summary>The family's feature count (the exponential family is one-dimensional).</summary>
    public static int FeaturesOf(string family, int features) => family == "exponential" ? 1 : features;

    public static CovarianceType Type(string family) => family switch
    {
        "full" => CovarianceType.Full,
        "tied" => CovarianceType.Tied,
        "diag" => CovarianceType.Diagonal,
        _ => CovarianceType.Spherical,
    };

    private static void Randomize<T>(ComponentFamily<T> family, Random random)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int k = family.Components, d = family.Features;
        switch (family)
        {
            case GaussianComponents<T> gaussian:
            {
                Span<double> means = gaussian.Means;
                for (int i = 0; i < means.Length; i++)
                {
                    means[i] = 6 * random.NextDouble() - 3;
                }

                Span<double> covariances = gaussian.Covariances;
                if (gaussian.CovarianceType is CovarianceType.Full or CovarianceType.Tied)
                {
                    for (int m = 0; m < covariances.Length / (d * d); m++)
                    {
                        // A Aᵀ + I: symmetric positive definite.
                        double[] a = Enumerable.Range(0, d * d).Select(_ => random.NextDouble() - 0.5).ToArray();
                        for (int r = 0; r < d; r++)
                        {
                            for (int c = 0; c < d; c++)
                            {
                                double sum = r == c ? 1 : 0;
                                for (int j = 0; j < d; j++)
                                {
                                    sum += a[r * d + j] * a[c * d + j];
                                }

                                covariances[m * d * d + r * d + c] = sum;
                            }
                        }
                    }
                }
                else
                {
                    for (int i = 0; i < covariances.Length; i++)
                    {
                        covariances[i] = 0.5 + random.NextDouble();
                    }
                }

                break;
            }

            case CategoricalComponents<T> categorical:
            {
                int c = categorical.Categories;
                for (int i = 0; i < k * d; i++)
                {
                    double[] p = Enumerable.Range(0, c).Select(_ => 0.1 + random.NextDouble()).ToArray();
                    double total = p.Sum();
                    for (int j = 0; j < c; j++)
                    {
                        family.Parameters[i * c + j] = p[j] / total;
                    }
                }

                break;
            }

            case PoissonComponents<T>:
                for (int i = 0; i < family.Parameters.Length; i++)
                {
                    family.Parameters[i] = 0.5 + 6 * random.NextDouble();
                }

                break;
            case ExponentialComponents<T>:
                for (int i = 0; i < family.Parameters.Length; i++)
                {
                    family.Parameters[i] = 0.2 + 2 * random.NextDouble();
                }

                break;
            default:
                for (int i = 0; i < family.Parameters.Length; i++)
                {
                    family.Parameters[i] = 0.05 + 0.9 * random.NextDouble();
                }

                break;
        }
    }
}

/// <summary>
/// A family written only against the public API, as a user would: exponential densities
/// p(x | λ) = λ e^(−λx) on x ≥ 0, with one statistic per component (Σ w r x). The M-step is λ = N_k / Σ w r x.
/// </summary>
public sealed class ExponentialComponents<T>(int components) : ComponentFamily<T>(components, features: 1, parameterLength: components, momentsPerComponent: 1)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public override int FreeParameterCount => Components;

    public override void Validate(in DataTile<T> tile)
    {
        base.Validate(tile);
        for (int i = 0; i < tile.Points; i++)
        {
            if (tile[i, 0] < T.Zero)
            {
                throw new ArgumentException($"Row {tile.Start + i} is negative; exponential data are ≥ 0.", "data");
            }
        }
    }

    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace)
    {
        for (int k = 0; k < Components; k++)
        {
            double rate = Parameters[k];
            double offset = LogWeights[k] + Math.Log(rate);
            for (int i = 0; i < tile.Points; i++)
            {
                destination[k * tile.Points + i] = T.CreateTruncating(offset - rate * double.CreateTruncating(tile[i, 0]));
            }
        }
    }

    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        Span<double> moments = Moments(statistics);
        for (int k = 0; k < Components; k++)
        {
            double sum = 0;
            for (int i = 0; i < tile.Points; i++)
            {
                sum += double.CreateTruncating(tile.Weight(i) * responsibilities[k * tile.Points + i] * tile[i, 0]);
            }

            moments[k] += sum;
        }
    }

    public override bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics)
    {
        Span<double> moments = Moments(statistics);
        for (int k = 0; k < Components; k++)
        {
            moments[k] = weights[k] / Parameters[k]; // E[x] = 1/λ
        }

        return true;
    }

    public override void Reseed(int component, ReadOnlySpan<double> point) => Parameters[component] = 1 / Math.Max(point[0], 1e-3);

    protected override bool MaximizeComponent(int component, double mass, ReadOnlySpan<double> moments)
    {
        double rate = mass / moments[0];
        if (!(rate > 0) || !double.IsFinite(rate))
        {
            return false;
        }

        Parameters[component] = rate;
        return true;
    }
}
