using System.Numerics;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using EmKernels.Kernels;

namespace EmKernels.Bench;

/// <summary>
/// Shared seeded data for the kernel benchmarks: K components, B points (one size deliberately ragged),
/// D features, all buffers allocated once in setup so each call allocates nothing.
/// </summary>
public abstract class KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    protected const int Components = 16;
    protected const int Features = 16;

    [Params(4096, 4099)]
    public int Points { get; set; }

    protected T[] LogRho = [];
    protected T[] Work = [];
    protected T[] Output = [];
    protected T[] Scratch = [];
    protected T[] Sum = [];
    protected T[] X = [];
    protected int Stride;
    protected T[] Means = [];
    protected T[] Precisions = [];
    protected T[] SphericalPrecisions = [];
    protected T[] Offsets = [];
    protected T[] Responsibilities = [];
    protected double[] Mass = [];
    protected double[] First = [];
    protected double[] Second = [];
    protected T[] Factors = [];
    protected double[] Scatter = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261122);
        T Uniform(double low, double high) => T.CreateTruncating(low + (high - low) * random.NextDouble());
        LogRho = Fill(Components * Points, () => Uniform(-30, 5));
        Work = new T[Components * Points];
        Output = new T[Points];
        Scratch = new T[Points];
        Sum = new T[Points];
        // The layout callers get from FeatureMajorMatrix: the stride is padded so that features never alias in L1.
        var matrix = new FeatureMajorMatrix<T>(Points, Features);
        for (int d = 0; d < Features; d++)
        {
            foreach (ref T value in matrix.Feature(d))
            {
                value = Uniform(-3, 3);
            }
        }

        Stride = matrix.Stride;
        X = matrix.Values.ToArray();
        Means = Fill(Components * Features, () => Uniform(-1, 1));
        Precisions = Fill(Components * Features, () => Uniform(0.2, 5));
        SphericalPrecisions = Fill(Components, () => Uniform(0.2, 5));
        Offsets = Fill(Components, () => Uniform(-10, 0));
        Responsibilities = Fill(Components * Points, () => Uniform(0, 1));
        Mass = new double[Components];
        First = new double[Components * Features];
        Second = new double[Components * Features];

        // Precision Cholesky factors: upper triangular, positive diagonal.
        Factors = new T[Components * Features * Features];
        for (int k = 0; k < Components; k++)
        {
            for (int i = 0; i < Features; i++)
            {
                Factors[(k * Features + i) * Features + i] = Uniform(0.5, 2);
                for (int j = i + 1; j < Features; j++)
                {
                    Factors[(k * Features + i) * Features + j] = Uniform(-0.3, 0.3);
                }
            }
        }

        Scatter = new double[Components * Features * Features];
    }

    private static T[] Fill(int length, Func<T> next)
    {
        var values = new T[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = next();
        }

        return values;
    }
}

[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class LogSumExpBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Benchmark(Baseline = true)]
    public void ScalarLoop() => ScalarKernels.LogSumExp<T>(LogRho, Components, Points, Output);

    [Benchmark]
    public void EmKernels() => MixtureKernels.LogSumExp<T>(LogRho, Components, Points, Output);

    [Benchmark]
    public void TensorPrimitivesComposition()
    {
        int b = Points;
        ReadOnlySpan<T> rows = LogRho;
        Span<T> max = Scratch;
        rows[..b].CopyTo(max);
        for (int k = 1; k < Components; k++)
        {
            TensorPrimitives.Max(max, rows.Slice(k * b, b), max);
        }

        Span<T> sum = Sum;
        Span<T> term = Output;
        sum.Clear();
        for (int k = 0; k < Components; k++)
        {
            TensorPrimitives.Subtract(rows.Slice(k * b, b), max, term);
            TensorPrimitives.Exp<T>(term, term);
            TensorPrimitives.Add(sum, term, sum);
        }

        TensorPrimitives.Log<T>(sum, Output);
        TensorPrimitives.Add(Output, max, Output);
    }
}

[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class ResponsibilitiesBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    // Each call first restores log ρ (the kernel works in place); the copy is the same for every method.
    [Benchmark(Baseline = true)]
    public double ScalarLoop()
    {
        LogRho.CopyTo(Work, 0);
        return ScalarKernels.Responsibilities<T>(Work, Components, Points, Output);
    }

    [Benchmark]
    public double EmKernels()
    {
        LogRho.CopyTo(Work, 0);
        return MixtureKernels.Responsibilities<T>(Work, Components, Points, Output);
    }

    [Benchmark]
    public double TensorPrimitivesComposition()
    {
        LogRho.CopyTo(Work, 0);
        int b = Points;
        Span<T> rows = Work;
        Span<T> max = Scratch;
        rows[..b].CopyTo(max);
        for (int k = 1; k < Components; k++)
        {
            TensorPrimitives.Max(max, rows.Slice(k * b, b), max);
        }

        Span<T> sum = Sum;
        sum.Clear();
        for (int k = 0; k < Components; k++)
        {
            Span<T> row = rows.Slice(k * b, b);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp<T>(row, row);
            TensorPrimitives.Add(sum, row, sum);
        }

        TensorPrimitives.Log<T>(sum, Output);
        TensorPrimitives.Add(Output, max, Output);
        TensorPrimitives.Reciprocal<T>(sum, sum);
        for (int k = 0; k < Components; k++)
        {
            Span<T> row = rows.Slice(k * b, b);
            TensorPrimitives.Multiply(row, sum, row);
        }

        return double.CreateTruncating(TensorPrimitives.Sum<T>(Output));
    }
}

[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class DiagonalLogDensityBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Benchmark(Baseline = true)]
    public void ScalarLoop() => ScalarKernels.DiagonalLogDensity<T>(X, Features, Points, Stride, Components, Means, Precisions, Offsets, Work);

    [Benchmark]
    public void EmKernels() => GaussianKernels.DiagonalLogDensity<T>(X, Features, Points, Stride, Components, Means, Precisions, Offsets, Work);

    [Benchmark]
    public void TensorPrimitivesComposition()
    {
        int b = Points;
        Span<T> t = Scratch;
        for (int k = 0; k < Components; k++)
        {
            Span<T> row = Work.AsSpan(k * b, b);
            row.Fill(Offsets[k]);
            for (int d = 0; d < Features; d++)
            {
                ReadOnlySpan<T> xd = X.AsSpan(d * Stride, b);
                TensorPrimitives.Subtract(xd, Means[k * Features + d], t);
                TensorPrimitives.Multiply(t, t, t);
                TensorPrimitives.MultiplyAdd(t, -T.CreateTruncating(0.5) * Precisions[k * Features + d], row, row);
            }
        }
    }
}

[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class SphericalLogDensityBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Benchmark(Baseline = true)]
    public void ScalarLoop() => ScalarKernels.SphericalLogDensity<T>(X, Features, Points, Stride, Components, Means, SphericalPrecisions, Offsets, Work);

    [Benchmark]
    public void EmKernels() => GaussianKernels.SphericalLogDensity<T>(X, Features, Points, Stride, Components, Means, SphericalPrecisions, Offsets, Work);

    [Benchmark]
    public void TensorPrimitivesComposition()
    {
        int b = Points;
        Span<T> t = Scratch;
        for (int k = 0; k < Components; k++)
        {
            Span<T> row = Work.AsSpan(k * b, b);
            row.Fill(Offsets[k]);
            T scale = -T.CreateTruncating(0.5) * SphericalPrecisions[k];
            for (int d = 0; d < Features; d++)
            {
                TensorPrimitives.Subtract(X.AsSpan(d * Stride, b), Means[k * Features + d], t);
                TensorPrimitives.Multiply(t, t, t);
                TensorPrimitives.MultiplyAdd(t, scale, row, row);
            }
        }
    }
}

[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class DiagonalSufficientStatisticsBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Benchmark(Baseline = true)]
    public void ScalarLoop() =>
        ScalarKernels.DiagonalSufficientStatistics<T>(X, Features, Points, Stride, Responsibilities, Components, Means, Mass, First, Second);

    [Benchmark]
    public void EmKernels() =>
        GaussianKernels.DiagonalSufficientStatistics<T>(X, Features, Points, Stride, Responsibilities, Components, default, Means, Mass, First, Second);

    [Benchmark]
    public void TensorPrimitivesComposition()
    {
        int b = Points;
        Span<T> t = Scratch;
        Span<T> u = Output;
        for (int k = 0; k < Components; k++)
        {
            ReadOnlySpan<T> r = Responsibilities.AsSpan(k * b, b);
            Mass[k] += double.CreateTruncating(TensorPrimitives.Sum(r));
            for (int d = 0; d < Features; d++)
            {
                TensorPrimitives.Subtract(X.AsSpan(d * Stride, b), Means[k * Features + d], t);
                TensorPrimitives.Multiply(r, t, u);
                First[k * Features + d] += double.CreateTruncating(TensorPrimitives.Sum<T>(u));
                Second[k * Features + d] += double.CreateTruncating(TensorPrimitives.Dot<T>(u, t));
            }
        }
    }
}

/// <summary>Full-covariance log-densities: K · B · D(D + 1)/2 multiply-adds through the precision Cholesky factors.</summary>
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class FullLogDensityBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Benchmark(Baseline = true)]
    public void ScalarLoop() => ScalarKernels.FullLogDensity<T>(X, Features, Points, Stride, Components, Means, Factors, Offsets, Work);

    [Benchmark]
    public void EmKernels() => GaussianKernels.FullLogDensity<T>(X, Features, Points, Stride, Components, Means, Factors, Offsets, Work);
}

/// <summary>Full-covariance sufficient statistics: K · B · D(D + 1)/2 multiply-adds into the upper triangles.</summary>
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class FullSufficientStatisticsBenchmarks<T> : KernelBenchmarkBase<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Benchmark(Baseline = true)]
    public void ScalarLoop() =>
        ScalarKernels.FullSufficientStatistics<T>(X, Features, Points, Stride, Responsibilities, Components, Means, Mass, First, Scatter);

    [Benchmark]
    public void EmKernels() =>
        GaussianKernels.FullSufficientStatistics<T>(X, Features, Points, Stride, Responsibilities, Components, default, Means, Mass, First, Scatter);
}
