using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Text;

namespace EmKernels.Engine;

/// <summary>
/// The sufficient statistics of a model over some set of points: a flat array of doubles in the model's
/// <see cref="StatisticsLayout"/> (shift blocks first, then sums such as masses and moments about the
/// shift). Everything that combines work — tiles, segments, threads, chunks of a file, minibatches,
/// processes — combines these values, with the operations here: <see cref="Clear"/> (zero),
/// <see cref="Add"/> (merge: s(A) ⊕ s(B) = s(A ∪ B)), <see cref="Scale"/>, <see cref="Lerp"/> (stepwise EM) and
/// versioned serialization (<see cref="ToBytes"/>, <see cref="FromBytes"/>).
/// </summary>
/// <remarks>
/// Sums are only meaningful about the shift they were taken about, so <see cref="Add"/> and
/// <see cref="Lerp"/> require equal shifts (bitwise) and throw otherwise. The arithmetic is
/// <see cref="TensorPrimitives"/>: results may differ in the last bit between instruction sets (a fused
/// multiply-add where the hardware has one), never between runs on one machine.
/// </remarks>
public sealed class SufficientStatistics
{
    /// <summary>Magic bytes of the serialized form.</summary>
    private static ReadOnlySpan<byte> Magic => "EMKS"u8;

    /// <summary>Version of the serialized form written by <see cref="ToBytes"/>.</summary>
    public const int FormatVersion = 1;

    /// <summary>
    /// One cache line of doubles kept free before and after the values: statistics of segments filled by
    /// different threads at once are allocated one after another and would otherwise share the lines at
    /// their edges.
    /// </summary>
    private const int Padding = 8;

    private readonly double[] _values;

    /// <summary>Creates zeroed statistics (shift included) of a layout.</summary>
    /// <param name="layout">The layout.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    public SufficientStatistics(StatisticsLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
        _values = new double[Padding + layout.Length + Padding];
    }

    /// <summary>The layout.</summary>
    public StatisticsLayout Layout { get; }

    /// <summary>Every value, in the layout's order.</summary>
    public Span<double> Values => _values.AsSpan(Padding, Layout.Length);

    /// <summary>The shift blocks (the leading <see cref="StatisticsLayout.ShiftLength"/> values).</summary>
    public Span<double> Shift => _values.AsSpan(Padding, Layout.ShiftLength);

    /// <summary>The sums: everything after the shift.</summary>
    public Span<double> Sums => _values.AsSpan(Padding + Layout.ShiftLength, Layout.Length - Layout.ShiftLength);

    /// <summary>The values of one block.</summary>
    /// <param name="index">The block's index in the layout.</param>
    /// <returns>A span over the block.</returns>
    public Span<double> Block(int index) => _values.AsSpan(Padding + Layout.Offset(index), Layout.Blocks[index].Length);

    /// <summary>Zero: sets every sum to 0 and keeps the shift.</summary>
    public void Clear() => Sums.Clear();

    /// <summary>Copies everything, shift included, from statistics of the same layout.</summary>
    /// <param name="source">The statistics to copy.</param>
    /// <exception cref="ArgumentException">The layouts differ.</exception>
    public void CopyFrom(SufficientStatistics source)
    {
        CheckLayout(source, nameof(source));
        source.Values.CopyTo(Values);
    }

    /// <summary>Merges: adds the sums of <paramref name="other"/>, taken about the same shift, to these.</summary>
    /// <param name="other">Statistics of the same layout and shift.</param>
    /// <exception cref="ArgumentException">The layouts or the shifts differ.</exception>
    public void Add(SufficientStatistics other)
    {
        CheckCompatible(other, nameof(other));
        TensorPrimitives.Add(Sums, other.Sums, Sums);
    }

    /// <summary>Multiplies every sum by <paramref name="factor"/> (the shift stays).</summary>
    /// <param name="factor">A finite factor.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is not finite.</exception>
    public void Scale(double factor)
    {
        if (!double.IsFinite(factor))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be finite.");
        }

        TensorPrimitives.Multiply(Sums, factor, Sums);
    }

    /// <summary>
    /// Stepwise interpolation s ← (1 − γ) s + γ ŝ of the sums, with ŝ = <paramref name="other"/> taken
    /// about the same shift. γ = 1 gives ŝ exactly and γ = 0 leaves s as it is.
    /// </summary>
    /// <param name="other">ŝ: statistics of the same layout and shift.</param>
    /// <param name="step">γ in [0, 1].</param>
    /// <exception cref="ArgumentException">The layouts or the shifts differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is not in [0, 1].</exception>
    public void Lerp(SufficientStatistics other, double step)
    {
        if (!(step >= 0 && step <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step size γ must lie in [0, 1].");
        }

        CheckCompatible(other, nameof(other));
        TensorPrimitives.Lerp(Sums, other.Sums, step, Sums);
    }

    /// <summary>Whether <paramref name="other"/> has the same layout and a bitwise equal shift, so that the two can be merged.</summary>
    /// <param name="other">Statistics to compare with.</param>
    /// <returns>True when <see cref="Add"/> would accept them.</returns>
    public bool CanMergeWith(SufficientStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Layout.Equals(other.Layout) && BitwiseEqual(Shift, other.Shift);
    }

    /// <summary>
    /// The serialized form, version <see cref="FormatVersion"/>: the bytes <c>EMKS</c>, the format version
    /// (int32), the layout (its kind and, per block, name, length and whether it is a shift; strings as
    /// int32 byte counts and UTF-8), then every value as a little-endian IEEE-754 double. All integers
    /// are little-endian. Reading it back with <see cref="FromBytes"/> gives bitwise the same values.
    /// </summary>
    /// <returns>A new array.</returns>
    public byte[] ToBytes()
    {
        int headerLength = Magic.Length + 4 + StringLength(Layout.Kind) + 4;
        foreach (StatisticsBlock block in Layout.Blocks)
        {
            headerLength += StringLength(block.Name) + 4 + 1;
        }

        byte[] bytes = new byte[headerLength + 8 * Layout.Length];
        var writer = new SpanWriter(bytes);
        writer.Bytes(Magic);
        writer.Int(FormatVersion);
        writer.String(Layout.Kind);
        writer.Int(Layout.Blocks.Count);
        foreach (StatisticsBlock block in Layout.Blocks)
        {
            writer.String(block.Name);
            writer.Int(block.Length);
            writer.Byte(block.IsShift ? (byte)1 : (byte)0);
        }

        foreach (double value in Values)
        {
            writer.Double(value);
        }

        return bytes;
    }

    /// <summary>Reads statistics written by <see cref="ToBytes"/>, checking that they are of the expected layout.</summary>
    /// <param name="bytes">The serialized form.</param>
    /// <param name="expected">The layout the caller's model uses.</param>
    /// <returns>New statistics.</returns>
    /// <exception cref="ArgumentException">The bytes are not serialized statistics, are of another format version, are truncated or too long, or hold another layout (the message says which).</exception>
    public static SufficientStatistics FromBytes(ReadOnlySpan<byte> bytes, StatisticsLayout expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var reader = new SpanReader(bytes);
        if (!reader.Bytes(Magic.Length).SequenceEqual(Magic))
        {
            throw new ArgumentException("These bytes are not serialized sufficient statistics (no EMKS header).", nameof(bytes));
        }

        int version = reader.Int();
        if (version != FormatVersion)
        {
            throw new ArgumentException($"Serialized statistics of format version {version}; this library reads version {FormatVersion}.", nameof(bytes));
        }

        string kind = reader.String();
        int count = reader.Int();
        if (count < 0 || count > bytes.Length)
        {
            throw new ArgumentException($"The serialized layout claims {count} blocks.", nameof(bytes));
        }

        var blocks = new StatisticsBlock[count];
        for (int i = 0; i < count; i++)
        {
            string name = reader.String();
            int length = reader.Int();
            byte flags = reader.Byte();
            blocks[i] = new StatisticsBlock(name, length, flags == 1);
        }

        StatisticsLayout layout;
        try
        {
            layout = new StatisticsLayout(kind, blocks);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The serialized layout is invalid: {e.Message}", nameof(bytes));
        }

        if (!layout.Equals(expected))
        {
            throw new ArgumentException($"The serialized statistics have layout {layout}; the model expects {expected}.", nameof(bytes));
        }

        if (reader.Remaining != 8L * layout.Length)
        {
            throw new ArgumentException(
                $"The serialized statistics {(reader.Remaining < 8L * layout.Length ? "are truncated: they" : "are too long: they")} hold {reader.Remaining} bytes of values; their layout needs {8L * layout.Length}.",
                nameof(bytes));
        }

        var statistics = new SufficientStatistics(expected);
        Span<double> values = statistics.Values;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = reader.Double();
        }

        return statistics;
    }

    private void CheckLayout(SufficientStatistics other, string paramName)
    {
        ArgumentNullException.ThrowIfNull(other, paramName);
        if (!Layout.Equals(other.Layout))
        {
            throw new ArgumentException($"Statistics of layout {other.Layout} cannot be combined with statistics of layout {Layout}.", paramName);
        }
    }

    private void CheckCompatible(SufficientStatistics other, string paramName)
    {
        CheckLayout(other, paramName);
        if (!BitwiseEqual(Shift, other.Shift))
        {
            throw new ArgumentException("The statistics were taken about different shifts, so their sums cannot be combined.", paramName);
        }
    }

    private static bool BitwiseEqual(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static int StringLength(string value) => 4 + Encoding.UTF8.GetByteCount(value);

    private ref struct SpanWriter(Span<byte> bytes)
    {
        private readonly Span<byte> _bytes = bytes;
        private int _position;

        public void Bytes(ReadOnlySpan<byte> value)
        {
            value.CopyTo(_bytes[_position..]);
            _position += value.Length;
        }

        public void Byte(byte value) => _bytes[_position++] = value;

        public void Int(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_bytes[_position..], value);
            _position += 4;
        }

        public void Double(double value)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(_bytes[_position..], value);
            _position += 8;
        }

        public void String(string value)
        {
            int length = Encoding.UTF8.GetBytes(value, _bytes[(_position + 4)..]);
            Int(length);
            _position += length;
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position;

        public readonly long Remaining => _bytes.Length - _position;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            Need(count);
            ReadOnlySpan<byte> value = _bytes.Slice(_position, count);
            _position += count;
            return value;
        }

        public byte Byte() => Bytes(1)[0];

        public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));

        public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Bytes(8));

        public string String()
        {
            int length = Int();
            if (length < 0)
            {
                throw new ArgumentException($"A serialized name claims {length} bytes.", "bytes");
            }

            try
            {
                return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Bytes(length));
            }
            catch (DecoderFallbackException)
            {
                throw new ArgumentException("A serialized name is not valid UTF-8.", "bytes");
            }
        }

        private readonly void Need(int count)
        {
            if (count > _bytes.Length - _position)
            {
                throw new ArgumentException($"The serialized statistics are truncated ({_bytes.Length} bytes).", "bytes");
            }
        }
    }
}
