using System.Numerics;
using EmKernels.Engine;
using Parquet;
using Parquet.Schema;

namespace EmKernels.IO;

/// <summary>
/// A Parquet file of numeric columns as a data source, through Parquet.Net, one row group at a time: each
/// thread that reads keeps its own reader and the row group it decoded last, so memory is bounded by the
/// file's row-group size, not by its number of rows. Columns of float, double, signed and unsigned integer
/// or boolean type are delivered as <typeparamref name="T"/> (<c>T.CreateTruncating</c> of the stored value); a
/// null is delivered as NaN (which a model then rejects by row and column).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class ParquetDataSource<T> : FileDataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly Type[] NumericTypes =
        [typeof(float), typeof(double), typeof(sbyte), typeof(short), typeof(int), typeof(long), typeof(byte), typeof(ushort), typeof(uint), typeof(ulong), typeof(bool)];

    private readonly string _path;
    private readonly DataField[] _fields;
    private readonly int[] _selected;
    private readonly long[] _groupStarts;
    private readonly ThreadLocal<Decoder> _decoders;

    private readonly bool _owner;

    private ParquetDataSource(string path, DataField[] fields, int[] selected, long[] groupStarts, bool owner = true)
    {
        _owner = owner;
        _path = path;
        _fields = fields;
        _selected = selected;
        _groupStarts = groupStarts;
        _decoders = new ThreadLocal<Decoder>(() => new Decoder(this), trackAllValues: true);
    }

    /// <inheritdoc/>
    public override long Points => _groupStarts[^1];

    /// <inheritdoc/>
    public override int Features => _selected.Length;

    /// <inheritdoc/>
    public override string Name => _path;

    /// <summary>The names of the file's columns (its data fields, in schema order).</summary>
    public override IReadOnlyList<string> ColumnNames => _names ??= _fields.Select(f => f.Name).ToArray();

    private string[]? _names;

    /// <inheritdoc/>
    public override IReadOnlyList<int> Columns => _selected;

    /// <inheritdoc/>
    public override string Locate(long row) => $"row {row + 1}";

    /// <inheritdoc/>
    public override FileDataSource<T> WithColumns(IReadOnlyList<int> columns)
    {
        int[] selected = CheckColumns(columns, _fields.Length, _path);
        foreach (int column in selected)
        {
            if (!IsNumeric(_fields[column]))
            {
                throw new DataFormatException($"{_path}: column '{Excerpt.Of(_fields[column].Name)}' is of type {_fields[column].ClrType.Name}, not a number.");
            }
        }

        return new ParquetDataSource<T>(_path, _fields, selected, _groupStarts, owner: true);
    }

    /// <summary>How many row groups the file has.</summary>
    public int RowGroups => _groupStarts.Length - 1;

    /// <summary>A read covers one row group at most, so the drivers' chunks follow the row groups' size.</summary>
    public override int? PreferredChunkPoints => (int)Math.Min(1 << 20, Enumerable.Range(0, RowGroups).Max(g => _groupStarts[g + 1] - _groupStarts[g]));

    /// <summary>Opens a Parquet file and reads its schema and row-group sizes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="columns">0-based columns (data fields) to deliver, in that order, or null for every numeric column.</param>
    /// <returns>The source; dispose it to close the file.</returns>
    /// <exception cref="DataFormatException">The file is not Parquet, has no numeric column, or a chosen column is not numeric.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static ParquetDataSource<T> Open(string path, IReadOnlyList<int>? columns = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        DataField[] fields;
        long[] starts;
        using (FileStream stream = File.OpenRead(path))
        {
            ParquetReader reader;
            try
            {
                reader = ParquetReader.CreateAsync(stream, null, true, default).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not (OutOfMemoryException or IOException))
            {
                throw new DataFormatException($"{path} is not a Parquet file Parquet.Net can read ({Excerpt.Of(e.Message)})", e);
            }

            try
            {
                fields = reader.Schema.GetDataFields();
                starts = new long[reader.RowGroupCount + 1];
                for (int g = 0; g < reader.RowGroupCount; g++)
                {
                    using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
                    starts[g + 1] = starts[g] + group.RowCount;
                }
            }
            finally
            {
                reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        int[] selected;
        if (columns is null)
        {
            selected = Enumerable.Range(0, fields.Length).Where(i => IsNumeric(fields[i])).ToArray();
            if (selected.Length == 0)
            {
                throw new DataFormatException($"{path} has no numeric column (its columns are {string.Join(", ", fields.Take(10).Select(f => $"{Excerpt.Of(f.Name)}: {f.ClrType.Name}"))}{(fields.Length > 10 ? $", … ({fields.Length} in all)" : "")}).");
            }
        }
        else
        {
            selected = [.. columns];
            if (selected.Length == 0)
            {
                throw new ArgumentException("At least one column must be chosen.", nameof(columns));
            }

            foreach (int column in selected)
            {
                if (column < 0 || column >= fields.Length)
                {
                    throw new ArgumentOutOfRangeException(nameof(columns), column, $"{path} has columns 0 … {fields.Length - 1}.");
                }

                if (!IsNumeric(fields[column]))
                {
                    throw new DataFormatException($"{path}: column '{Excerpt.Of(fields[column].Name)}' is of type {fields[column].ClrType.Name}, not a number.");
                }
            }
        }

        if (starts[^1] == 0)
        {
            throw new DataFormatException($"{path} holds no rows.");
        }

        return new ParquetDataSource<T>(path, fields, selected, starts);
    }

    /// <inheritdoc/>
    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        CheckRead(start, count, values, stride, sampleWeights, labels);
        Decoder decoder = _decoders.Value!;
        int done = 0;
        while (done < count)
        {
            long row = start + done;
            int group = Array.BinarySearch(_groupStarts, row);
            group = group >= 0 ? group : ~group - 1;
            while (_groupStarts[group + 1] <= row)
            {
                group++; // empty row groups
            }

            T[][] columns = decoder.Group(group);
            int offset = (int)(row - _groupStarts[group]);
            int take = (int)Math.Min(count - done, _groupStarts[group + 1] - row);
            for (int j = 0; j < _selected.Length; j++)
            {
                columns[j].AsSpan(offset, take).CopyTo(values.Slice(j * stride + done, take));
            }

            done += take;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        foreach (Decoder decoder in _decoders.Values)
        {
            decoder.Dispose();
        }

        _decoders.Dispose();
    }

    private static bool IsNumeric(DataField field) => !field.IsArray && NumericTypes.Contains(field.ClrType);

    /// <summary>One thread's reader of the file and the row group it decoded last.</summary>
    private sealed class Decoder(ParquetDataSource<T> source) : IDisposable
    {
        private FileStream? _stream;
        private ParquetReader? _reader;
        private int _group = -1;
        private T[][] _columns = [];

        public T[][] Group(int group)
        {
            if (group == _group)
            {
                return _columns;
            }

            _stream ??= File.OpenRead(source._path);
            _reader ??= ParquetReader.CreateAsync(_stream, null, true, default).GetAwaiter().GetResult();
            using ParquetRowGroupReader rows = _reader.OpenRowGroupReader(group);
            int count = checked((int)rows.RowCount);
            if (_columns.Length != source._selected.Length || (_columns.Length > 0 && _columns[0].Length < count))
            {
                _columns = source._selected.Select(_ => new T[count]).ToArray();
            }

            for (int j = 0; j < source._selected.Length; j++)
            {
                DataField field = source._fields[source._selected[j]];
                ReadColumn(rows, field, count, _columns[j]);
            }

            _group = group;
            return _columns;
        }

        public void Dispose()
        {
            _reader?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _stream?.Dispose();
        }

        private static void ReadColumn(ParquetRowGroupReader rows, DataField field, int count, T[] target)
        {
            Type type = field.ClrType;
            if (type == typeof(float))
            {
                Read<float>(rows, field, count, target);
            }
            else if (type == typeof(double))
            {
                Read<double>(rows, field, count, target);
            }
            else if (type == typeof(sbyte))
            {
                Read<sbyte>(rows, field, count, target);
            }
            else if (type == typeof(short))
            {
                Read<short>(rows, field, count, target);
            }
            else if (type == typeof(int))
            {
                Read<int>(rows, field, count, target);
            }
            else if (type == typeof(long))
            {
                Read<long>(rows, field, count, target);
            }
            else if (type == typeof(byte))
            {
                Read<byte>(rows, field, count, target);
            }
            else if (type == typeof(ushort))
            {
                Read<ushort>(rows, field, count, target);
            }
            else if (type == typeof(uint))
            {
                Read<uint>(rows, field, count, target);
            }
            else if (type == typeof(ulong))
            {
                Read<ulong>(rows, field, count, target);
            }
            else
            {
                bool[] flags = new bool[count];
                bool?[] nullable = new bool?[count];
                if (field.IsNullable)
                {
                    rows.ReadAsync<bool>(field, nullable.AsMemory(), null, default).AsTask().GetAwaiter().GetResult();
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = nullable[i] is { } b ? (b ? T.One : T.Zero) : T.NaN;
                    }
                }
                else
                {
                    rows.ReadAsync<bool>(field, flags.AsMemory(), null, default).AsTask().GetAwaiter().GetResult();
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = flags[i] ? T.One : T.Zero;
                    }
                }
            }
        }

        private static void Read<TValue>(ParquetRowGroupReader rows, DataField field, int count, T[] target)
            where TValue : struct, INumberBase<TValue>
        {
            if (field.IsNullable)
            {
                TValue?[] values = new TValue?[count];
                rows.ReadAsync<TValue>(field, values.AsMemory(), null, default).AsTask().GetAwaiter().GetResult();
                for (int i = 0; i < count; i++)
                {
                    target[i] = values[i] is { } v ? T.CreateTruncating(v) : T.NaN;
                }
            }
            else
            {
                TValue[] values = new TValue[count];
                rows.ReadAsync<TValue>(field, values.AsMemory(), null, default).AsTask().GetAwaiter().GetResult();
                for (int i = 0; i < count; i++)
                {
                    target[i] = T.CreateTruncating(values[i]);
                }
            }
        }
    }
}
