using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class MixtureKernels
{
    /// <summary>
    /// Points per reduction chunk of the sufficient statistics: sums over points are accumulated in
    /// element-typed vectors for at most this many points, then added to double totals, so float sums
    /// stay accurate over any length. A multiple of every vector width.
    /// </summary>
    internal const int ReductionChunk = 1024;

    /// <summary>
    /// The E-step's normalisation, in place: turns log ρ (log weight + log-density, K × B component-major)
    /// into responsibilities <c>r[k·points + n] = exp(logρ[k·points + n] − ℓ_n)</c>, where
    /// <c>ℓ_n = log Σ_k exp(logρ[k·points + n])</c> is the point's log-likelihood, and returns
    /// <c>Σ_n w_n · ℓ_n</c> (w_n = 1 when <paramref name="sampleWeights"/> is empty).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logProbabilities">K × B log ρ values, overwritten with the responsibilities.</param>
    /// <param name="components">K, the number of components (≥ 1).</param>
    /// <param name="points">B, the number of points (≥ 0).</param>
    /// <param name="logLikelihoods">B values receiving ℓ_n. Must not overlap <paramref name="logProbabilities"/>.</param>
    /// <param name="sampleWeights">Empty, or B per-point weights w_n. Not validated here (the models validate them).</param>
    /// <returns>The (weighted) sum of the per-point log-likelihoods: summed in the element type over at most
    /// 256 points, then in double.</returns>
    /// <remarks>
    /// Each point's responsibilities sum to 1 within rounding. A point whose ℓ_n is not finite (all
    /// components −∞, or a +∞ or NaN input) gets ℓ_n as <see cref="LogSumExp{T}"/> defines it and
    /// responsibilities of exactly 0, so no NaN reaches the sufficient statistics; the returned sum then
    /// carries the −∞, +∞ or NaN. A point with weight exactly 0 adds nothing to the sum, even if ℓ_n = −∞.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="components"/> &lt; 1 or <paramref name="points"/> &lt; 0.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static double Responsibilities<T>(
        Span<T> logProbabilities,
        int components,
        int points,
        Span<T> logLikelihoods,
        ReadOnlySpan<T> sampleWeights = default)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.NonNegative(points, nameof(points));
        Shape.Exact(logProbabilities.Length, components, points, nameof(logProbabilities), "components × points");
        Shape.Exact(logLikelihoods.Length, points, 1, nameof(logLikelihoods), "one per point");
        Shape.EmptyOrExact(sampleWeights.Length, points, nameof(sampleWeights));

        var arguments = new BlockArguments<T>(
            ref MemoryMarshal.GetReference(logProbabilities), components, points, ref MemoryMarshal.GetReference(logLikelihoods),
            ref MemoryMarshal.GetReference(sampleWeights), !sampleWeights.IsEmpty);
        Dispatch.Run<T, ResponsibilitiesBody<T>, BlockArguments<T>>(points, ref arguments);
        return arguments.Result;
    }

    private readonly struct ResponsibilitiesBody<T> : IKernelBody<T, BlockArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref BlockArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            a.Result = Responsibilities<T, TV, TOps>(ref a.Block, a.Components, a.Points, ref a.Normalizers, ref a.Weights, a.Weighted);
    }

    // Tails: the block is rewritten in place, so the last vector slot (at points − W) cannot simply
    // overlap the previous vector: by the time it is read, its first lanes already hold exponentials or
    // responsibilities. It is computed on all lanes and blended by a mask, so only its fresh lanes are
    // written and summed (identity 0). Requires points >= TOps.Count (or points == 0).
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Responsibilities<T, TV, TOps>(ref T block, int components, int points, ref T normalizers, ref T weights, bool weighted)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        Span<T> buffers = stackalloc T[2 * (PointChunk + 16)];
        ref T shifts = ref MemoryMarshal.GetReference(buffers);
        ref T sums = ref Unsafe.Add(ref shifts, PointChunk + 16);
        int full = points - (points % width);
        double total = 0;
        for (int start = 0; start < full; start += PointChunk)
        {
            var chunk = new Chunk(start, Math.Min(PointChunk, full - start) / width, start + PointChunk >= full && full != points, points - width);
            TV fresh = TOps.LanesFrom(chunk.HasTail ? (start + chunk.Vectors * width) - chunk.TailAt : 0);
            ShiftsAndSums<T, TV, TOps>(ref block, components, points, chunk, ref shifts, ref sums, storeExponentials: true);

            // ℓ = shift + log Σ replaces the shift; the sum becomes the scale 1/Σ (0 where ℓ is not finite).
            TV chunkSum = TOps.Zero;
            for (int j = 0; j < chunk.Slots; j++)
            {
                nuint at = (nuint)(j * width);
                nuint position = chunk.Position(j, width);
                TV sum = TOps.Load(ref sums, at);
                TV logLikelihood = TOps.Add(TOps.Load(ref shifts, at), TOps.Log(sum));
                TV finite = TOps.IsFinite(logLikelihood);
                TOps.Store(logLikelihood, ref shifts, at);
                TOps.Store(TOps.Select(finite, TOps.Divide(TOps.Broadcast(T.One), sum), TOps.Zero), ref sums, at);

                TV contribution = logLikelihood;
                if (weighted)
                {
                    TV w = TOps.Load(ref weights, position);
                    contribution = TOps.Select(TOps.IsZero(w), TOps.Zero, TOps.Multiply(w, logLikelihood));
                }

                bool tail = j == chunk.Vectors;
                chunkSum = TOps.Add(chunkSum, tail ? TOps.Select(fresh, contribution, TOps.Zero) : contribution);
                TOps.Store(tail ? TOps.Select(fresh, logLikelihood, TOps.Load(ref normalizers, position)) : logLikelihood, ref normalizers, position);
            }

            total += TOps.SumToDouble(chunkSum);

            // Pass 3: r = e · (1/Σ), or exactly 0 for a point whose ℓ is not finite.
            for (int k = 0; k < components; k++)
            {
                ref T row = ref Unsafe.Add(ref block, (nint)k * points);
                for (int j = 0; j < chunk.Slots; j++)
                {
                    nuint at = (nuint)(j * width);
                    nuint position = chunk.Position(j, width);
                    TV e = TOps.Load(ref row, position);
                    TV r = TOps.Select(TOps.IsFinite(TOps.Load(ref shifts, at)), TOps.Multiply(e, TOps.Load(ref sums, at)), TOps.Zero);
                    TOps.Store(j < chunk.Vectors ? r : TOps.Select(fresh, r, e), ref row, position);
                }
            }
        }

        return total;
    }
}
