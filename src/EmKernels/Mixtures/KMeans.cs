using System.Numerics;
using EmKernels.Engine;
using EmKernels.Kernels;

namespace EmKernels.Mixtures;

/// <summary>
/// Greedy k-means++ seeding (D² sampling weighted by the sample weights, the best of 2 + ⌊ln K⌋ candidates per centre,
/// as scikit-learn) refined by Lloyd iterations, and K
/// distinct random points: the initializations of <see cref="FiniteMixture{T}"/>. Like scikit-learn's KMeans
/// (which its GaussianMixture uses), Lloyd stops when no label changes or when the centres move by at most
/// <c>tolerance</c> × the mean feature variance in total squared distance, and the labels of the result are
/// those of the final centres. Distances come from <see cref="GaussianKernels.SphericalLogDensity{T}"/> with
/// unit precision and zero offset, which is −½‖x − μ‖².
/// </summary>
/// <remarks>
/// Everything is a sum over the data (<see cref="ModelInitialization{T}.Sum"/>, a pass of the engine over its fixed
/// segments), so data streamed from a file give the same centres as data in memory for the same seed, and so do the
/// processes of a distributed fit, each holding some of the segments. In memory, the distance of each point to its
/// nearest centre and its label are kept between passes (as fast as a classical implementation); streamed,
/// they are recomputed from the centres (memory independent of N), which gives the same values: each
/// distance is computed the same way, and a minimum does not depend on the order it is taken in.
/// </remarks>
internal static class KMeans
{
    /// <summary>The k-means centres (K × D, in the fit's frame) whose nearest-centre labels start the mixture.</summary>
    public static double[] Centres<T>(ModelInitialization<T> context, int components, int maxIterations = 300, double tolerance = 1e-4)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        long n = context.Summary.Points;
        int d = context.Summary.Features;
        int tile = context.TilePoints;
        bool cache = context.InMemory;
        Random random = context.Random;
        double[] centres = new double[components * d];
        T[] centresT = new T[components * d];
        int widest = Math.Max(components, 2 + (int)Math.Log(components));
        T[] unit = new T[widest];
        unit.AsSpan().Fill(T.One);
        T[] zero = new T[widest];
        T[] block = new T[components * tile];
        double[]? nearest = cache ? new double[n] : null;
        nearest?.AsSpan().Fill(double.PositiveInfinity);

        // Greedy k-means++ (as scikit-learn's): each new centre is the best of 2 + ⌊ln K⌋ candidates drawn with probability
        // ∝ w · (distance to the nearest centre)², the one that leaves the smallest potential Σ w · (distance to the nearest
        // centre)²; the first is drawn uniformly. One candidate per centre (plain k-means++) misses clusters far more often.
        int trials = 2 + (int)Math.Log(components);
        T[] candidatesT = new T[trials * d];
        T[] candidateBlock = new T[trials * tile];
        double[] scores = new double[tile];
        for (int c = 0; c < components; c++)
        {
            if (c == 0)
            {
                long seed = Draw(context, random, (in DataTile<T> _, Span<double> s) => s.Fill(1), 1)[0];
                context.Rows([seed]).CopyTo(centres, 0);
            }
            else
            {
                int placed = c;
                Scores<T> nearestScores = (in DataTile<T> t, Span<double> s) => NearestDistances(t, placed, centresT, unit, zero, block, nearest, s);
                long[] candidates = Draw(context, random, nearestScores, trials);
                double[] points = context.Rows(candidates);
                for (int i = 0; i < points.Length; i++)
                {
                    candidatesT[i] = T.CreateTruncating(points[i]);
                }

                // The potential each candidate would leave, in one pass over the data.
                double[] potential = new double[trials];
                context.SumValues(potential, (in DataTile<T> t, Span<double> potential) =>
                {
                    int count = t.Points;
                    Span<double> s = scores.AsSpan(0, count);
                    nearestScores(t, s);
                    Span<T> distances = candidateBlock.AsSpan(0, trials * count);
                    GaussianKernels.SphericalLogDensity<T>(t.Values, d, count, t.Stride, trials, candidatesT, unit.AsSpan(0, trials), zero.AsSpan(0, trials), distances);
                    for (int l = 0; l < trials; l++)
                    {
                        for (int i = 0; i < count; i++)
                        {
                            potential[l] += Weight(t, i) * Math.Min(s[i], -2 * double.CreateTruncating(distances[l * count + i]));
                        }
                    }
                });
                int best = 0;
                for (int l = 1; l < trials; l++)
                {
                    if (potential[l] < potential[best])
                    {
                        best = l;
                    }
                }

                points.AsSpan(best * d, d).CopyTo(centres.AsSpan(c * d, d)); // the candidates were read already
            }

            for (int i = 0; i < d; i++)
            {
                centresT[c * d + i] = T.CreateTruncating(centres[c * d + i]);
            }

            if (nearest is not null)
            {
                int newest = c;
                context.SumValues([], (in DataTile<T> t, Span<double> _) =>
                {
                    GaussianKernels.SphericalLogDensity<T>(t.Values, d, t.Points, t.Stride, 1, centresT.AsSpan(newest * d, d), unit.AsSpan(0, 1), zero.AsSpan(0, 1), block.AsSpan(0, t.Points));
                    for (int i = 0; i < t.Points; i++)
                    {
                        long index = t.Start + i;
                        nearest[index] = Math.Min(nearest[index], -2 * double.CreateTruncating(block[i]));
                    }
                });
            }
        }

        // Lloyd iterations. One pass per iteration: each tile is labelled and its one-hot responsibilities
        // go straight to the weighted-sum kernel, which gives the next centres.
        double shiftTolerance = tolerance * context.Summary.MeanVariance;
        bool lastPass = false;
        int[]? labels = cache ? new int[n] : null;
        labels?.AsSpan().Fill(-1);
        T[] previousT = new T[components * d];
        T[] previousBlock = new T[components * tile];
        bool first = true;
        double[] lloyd = new double[components + components * d + 1]; // masses, sums, and how many labels changed
        T[] oneHot = new T[components * tile];
        double[] labelled = new double[components * d];
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            for (int i = 0; i < centres.Length; i++)
            {
                centresT[i] = T.CreateTruncating(centres[i]);
            }

            centres.CopyTo(labelled, 0);
            bool firstPass = first;
            context.SumValues(lloyd, (in DataTile<T> t, Span<double> sums) =>
            {
                int count = t.Points;
                Span<T> r = oneHot.AsSpan(0, components * count);
                Span<T> distances = block.AsSpan(0, components * count);
                GaussianKernels.SphericalLogDensity<T>(t.Values, d, count, t.Stride, components, centresT, unit.AsSpan(0, components), zero.AsSpan(0, components), distances);
                if (labels is null && !firstPass)
                {
                    GaussianKernels.SphericalLogDensity<T>(t.Values, d, count, t.Stride, components, previousT, unit.AsSpan(0, components), zero.AsSpan(0, components), previousBlock.AsSpan(0, components * count));
                }

                r.Clear();
                for (int i = 0; i < count; i++)
                {
                    int best = Nearest(distances, components, count, i);
                    int before = labels is not null ? labels[t.Start + i] : firstPass ? -1 : Nearest(previousBlock, components, count, i);
                    sums[^1] += before != best ? 1 : 0;
                    if (labels is not null)
                    {
                        labels[t.Start + i] = best;
                    }

                    r[best * count + i] = T.One;
                }

                DiscreteKernels.CountSufficientStatistics<T>(t.Values, d, count, t.Stride, r, components, t.SampleWeights, sums[..components], sums.Slice(components, components * d));
            });
            ReadOnlySpan<double> mass = lloyd.AsSpan(0, components), sums = lloyd.AsSpan(components, components * d);
            bool changed = lloyd[^1] > 0;
            first = false;
            centresT.CopyTo(previousT, 0);
            if (!changed || lastPass)
            {
                break;
            }

            double shift = 0;
            for (int c = 0; c < components; c++)
            {
                if (mass[c] > 0)
                {
                    for (int f = 0; f < d; f++)
                    {
                        double moved = sums[c * d + f] / mass[c];
                        shift += (moved - centres[c * d + f]) * (moved - centres[c * d + f]);
                        centres[c * d + f] = moved;
                    }
                }
            }

            lastPass = shift <= shiftTolerance; // one more labelling pass, against the final centres
        }

        return labelled; // the centres of the last labelling pass
    }

    /// <summary>
    /// K distinct points of positive weight drawn uniformly (Floyd's algorithm over their ordinals; with fewer
    /// than K such points, they repeat in turn), K × D in the fit's frame.
    /// </summary>
    public static double[] RandomPoints<T>(ModelInitialization<T> context, int components)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        // The points of positive weight per segment; their ordinals run through the segments in order.
        int segments = context.SegmentCount;
        double[] perSegment = new double[segments];
        context.SumValues(perSegment, (in DataTile<T> t, Span<double> counts) =>
        {
            int segment = context.SegmentOf(t.Start);
            for (int i = 0; i < t.Points; i++)
            {
                counts[segment] += !context.SampleWeighted || t.SampleWeights[i] > T.Zero ? 1 : 0;
            }
        });
        long positive = 0;
        long[] firstOrdinal = new long[segments];
        for (int g = 0; g < segments; g++)
        {
            firstOrdinal[g] = positive;
            positive += (long)perSegment[g];
        }

        long[] ordinals = new long[components];
        if (positive >= components)
        {
            var chosen = new HashSet<long>();
            int next = 0;
            for (long j = positive - components; j < positive; j++)
            {
                long t = context.Random.NextInt64(j + 1);
                long pick = chosen.Add(t) ? t : j;
                chosen.Add(pick);
                ordinals[next++] = pick;
            }
        }
        else
        {
            for (int j = 0; j < components; j++)
            {
                ordinals[j] = j % positive;
            }
        }

        int d = context.Summary.Features;
        double[] points = new double[components * d];
        long ordinal = 0;
        context.SumValues(points, (in DataTile<T> t, Span<double> points) =>
        {
            int segment = context.SegmentOf(t.Start);
            if (t.Start == context.SegmentStart(segment))
            {
                ordinal = firstOrdinal[segment]; // each segment counts from its own first ordinal
            }

            for (int i = 0; i < t.Points; i++)
            {
                if (context.SampleWeighted && !(t.SampleWeights[i] > T.Zero))
                {
                    continue;
                }

                for (int j = 0; j < components; j++)
                {
                    if (ordinals[j] == ordinal)
                    {
                        for (int f = 0; f < d; f++)
                        {
                            points[j * d + f] = double.CreateTruncating(t[i, f]);
                        }
                    }
                }

                ordinal++;
            }
        });
        return points;
    }

    private static int Nearest<T>(ReadOnlySpan<T> distances, int components, int count, int i)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int best = 0;
        for (int c = 1; c < components; c++)
        {
            if (distances[c * count + i] > distances[best * count + i])
            {
                best = c;
            }
        }

        return best;
    }

    /// <summary>Each point's squared distance to the nearest of the first <paramref name="chosen"/> centres: kept (in memory) or recomputed.</summary>
    private static void NearestDistances<T>(in DataTile<T> tile, int chosen, T[] centresT, T[] unit, T[] zero, T[] block, double[]? nearest, Span<double> scores)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int count = tile.Points;
        if (nearest is not null)
        {
            nearest.AsSpan((int)tile.Start, count).CopyTo(scores);
            return;
        }

        int d = tile.Features;
        scores.Fill(double.PositiveInfinity);
        for (int c = 0; c < chosen; c++)
        {
            GaussianKernels.SphericalLogDensity<T>(tile.Values, d, count, tile.Stride, 1, centresT.AsSpan(c * d, d), unit.AsSpan(0, 1), zero.AsSpan(0, 1), block.AsSpan(0, count));
            for (int i = 0; i < count; i++)
            {
                scores[i] = Math.Min(scores[i], -2 * double.CreateTruncating(block[i]));
            }
        }
    }

    private delegate void Scores<T>(in DataTile<T> tile, Span<double> scores)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>
    /// <paramref name="count"/> points drawn independently with probability ∝ w_n · score_n (uniform among positive weights
    /// if every product is 0), by two sums over the data: each segment's total, then, in the segment each drawn value falls
    /// in (by the totals' running sum, in segment order), the point where the segment's own running sum passes it.
    /// </summary>
    private static long[] Draw<T>(ModelInitialization<T> context, Random random, Scores<T> scores, int count)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double[] buffer = new double[context.TilePoints];
        int segments = context.SegmentCount;
        bool plain = false;
        double[] totals = new double[segments];
        void Score(in DataTile<T> t, Span<double> s)
        {
            if (plain)
            {
                s.Fill(1);
            }
            else
            {
                scores(t, s);
            }

            for (int i = 0; i < t.Points; i++)
            {
                s[i] *= Weight(t, i);
            }
        }

        double total = 0;
        for (int attempt = 0; attempt < 2 && !(total > 0 && double.IsFinite(total)); attempt++)
        {
            // Every remaining point coincides with a centre (or the products overflow): any positive-weight point will do.
            plain = attempt == 1;
            Array.Clear(totals);
            context.SumValues(totals, (in DataTile<T> t, Span<double> sums) =>
            {
                Span<double> s = buffer.AsSpan(0, t.Points);
                Score(t, s);
                int segment = context.SegmentOf(t.Start);
                for (int i = 0; i < t.Points; i++)
                {
                    sums[segment] += s[i];
                }
            });
            total = 0;
            foreach (double value in totals)
            {
                total += value;
            }
        }

        // Each drawn value's segment and its remainder there.
        int[] segmentOf = new int[count];
        double[] remainder = new double[count];
        for (int j = 0; j < count; j++)
        {
            double target = random.NextDouble() * total;
            int g = 0;
            double before = 0;
            int lastPositive = -1;
            for (; g < segments; g++)
            {
                if (totals[g] > 0)
                {
                    lastPositive = g;
                    if (before + totals[g] > target)
                    {
                        break;
                    }
                }

                before += totals[g];
            }

            segmentOf[j] = g < segments ? g : Math.Max(lastPositive, 0);
            remainder[j] = g < segments ? target - before : double.PositiveInfinity; // rounding: the segment's last positive point
        }

        // Per drawn value: 1 + the point found, and 1 + the last positive point of its segment (written, not summed).
        double[] found = new double[2 * count];
        double running = 0;
        bool[] done = new bool[count];
        context.SumValues(found, (in DataTile<T> t, Span<double> found) =>
        {
            int segment = context.SegmentOf(t.Start);
            if (Array.IndexOf(segmentOf, segment) < 0)
            {
                return;
            }

            if (t.Start == context.SegmentStart(segment))
            {
                running = 0;
            }

            Span<double> s = buffer.AsSpan(0, t.Points);
            Score(t, s);
            for (int i = 0; i < t.Points; i++)
            {
                if (s[i] > 0)
                {
                    running += s[i];
                    for (int j = 0; j < count; j++)
                    {
                        if (segmentOf[j] == segment)
                        {
                            found[2 * j + 1] = t.Start + i + 1;
                            if (!done[j] && running > remainder[j])
                            {
                                done[j] = true;
                                found[2 * j] = t.Start + i + 1;
                            }
                        }
                    }
                }
            }
        });
        long[] points = new long[count];
        for (int j = 0; j < count; j++)
        {
            points[j] = (long)(found[2 * j] > 0 ? found[2 * j] : found[2 * j + 1]) - 1;
            points[j] = Math.Max(points[j], 0);
        }

        return points;
    }

    private static double Weight<T>(in DataTile<T> tile, int i)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        tile.SampleWeights.IsEmpty ? 1 : double.CreateTruncating(tile.SampleWeights[i]);
}
