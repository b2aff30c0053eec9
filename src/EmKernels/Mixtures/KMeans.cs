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
/// Everything is a pass over <see cref="ModelInitialization{T}.ForEachTile"/>, so data streamed from a file
/// give the same centres as data in memory for the same seed. In memory, the distance of each point to its
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
                CopyPoints(context, [seed], d).CopyTo(centres, 0);
            }
            else
            {
                int placed = c;
                Scores<T> nearestScores = (in DataTile<T> t, Span<double> s) => NearestDistances(t, placed, centresT, unit, zero, block, nearest, s);
                long[] candidates = Draw(context, random, nearestScores, trials);
                double[] points = CopyPoints(context, candidates, d);
                for (int i = 0; i < points.Length; i++)
                {
                    candidatesT[i] = T.CreateTruncating(points[i]);
                }

                // The potential each candidate would leave, in one pass over the data.
                double[] potential = new double[trials];
                context.ForEachTile((in DataTile<T> t) =>
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
                context.ForEachTile((in DataTile<T> t) =>
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
        double[] sums = new double[components * d];
        double[] mass = new double[components];
        T[] oneHot = new T[components * tile];
        double[] labelled = new double[components * d];
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            for (int i = 0; i < centres.Length; i++)
            {
                centresT[i] = T.CreateTruncating(centres[i]);
            }

            centres.CopyTo(labelled, 0);
            Array.Clear(sums);
            Array.Clear(mass);
            bool changed = false;
            bool firstPass = first;
            context.ForEachTile((in DataTile<T> t) =>
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
                    changed |= before != best;
                    if (labels is not null)
                    {
                        labels[t.Start + i] = best;
                    }

                    r[best * count + i] = T.One;
                }

                DiscreteKernels.CountSufficientStatistics<T>(t.Values, d, count, t.Stride, r, components, t.SampleWeights, mass, sums);
            });
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
        long positive = 0;
        if (context.SampleWeighted)
        {
            context.ForEachTile((in DataTile<T> t) =>
            {
                for (int i = 0; i < t.Points; i++)
                {
                    positive += t.SampleWeights[i] > T.Zero ? 1 : 0;
                }
            });
        }
        else
        {
            positive = context.Summary.Points;
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
        context.ForEachTile((in DataTile<T> t) =>
        {
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
    /// <paramref name="count"/> points drawn independently with probability ∝ w_n · score_n, by two passes (the total, then
    /// one scan to all the drawn cumulative values, taken in increasing order and returned in the order drawn); uniform
    /// among positive weights if every product is 0.
    /// </summary>
    private static long[] Draw<T>(ModelInitialization<T> context, Random random, Scores<T> scores, int count)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double[] buffer = new double[context.TilePoints];
        double total = 0;
        context.ForEachTile((in DataTile<T> t) =>
        {
            Span<double> s = buffer.AsSpan(0, t.Points);
            scores(t, s);
            for (int i = 0; i < t.Points; i++)
            {
                total += Weight(t, i) * s[i];
            }
        });
        bool plain = false;
        if (!(total > 0) || double.IsInfinity(total))
        {
            // Every remaining point coincides with a centre: any positive-weight point will do.
            plain = true;
            total = 0;
            context.ForEachTile((in DataTile<T> t) =>
            {
                for (int i = 0; i < t.Points; i++)
                {
                    total += Weight(t, i);
                }
            });
        }

        double[] targets = new double[count];
        for (int j = 0; j < count; j++)
        {
            targets[j] = random.NextDouble() * total;
        }

        int[] order = Enumerable.Range(0, count).OrderBy(j => targets[j]).ToArray();
        long[] found = new long[count];
        found.AsSpan().Fill(-1);
        double running = 0;
        long last = 0;
        int next = 0;
        context.ForEachTile((in DataTile<T> t) =>
        {
            if (next == count)
            {
                return;
            }

            Span<double> s = buffer.AsSpan(0, t.Points);
            if (plain)
            {
                s.Fill(1);
            }
            else
            {
                scores(t, s);
            }

            for (int i = 0; i < t.Points && next < count; i++)
            {
                double score = Weight(t, i) * s[i];
                if (score > 0)
                {
                    last = t.Start + i;
                    running += score;
                    while (next < count && running > targets[order[next]])
                    {
                        found[order[next++]] = t.Start + i;
                    }
                }
            }
        });
        for (int j = 0; j < count; j++)
        {
            found[j] = found[j] >= 0 ? found[j] : last;
        }

        return found;
    }

    private static double Weight<T>(in DataTile<T> tile, int i)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        tile.SampleWeights.IsEmpty ? 1 : double.CreateTruncating(tile.SampleWeights[i]);

    /// <summary>The given points, one after another (count × D), in one pass.</summary>
    private static double[] CopyPoints<T>(ModelInitialization<T> context, long[] points, int features)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double[] values = new double[points.Length * features];
        context.ForEachTile((in DataTile<T> t) =>
        {
            for (int j = 0; j < points.Length; j++)
            {
                if (points[j] >= t.Start && points[j] < t.Start + t.Points)
                {
                    for (int f = 0; f < features; f++)
                    {
                        values[j * features + f] = double.CreateTruncating(t[(int)(points[j] - t.Start), f]);
                    }
                }
            }
        });
        return values;
    }
}
