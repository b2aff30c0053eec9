using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using EmKernels.Engine;
using Microsoft.Win32.SafeHandles;

namespace EmKernels.IO;

/// <summary>
/// A NumPy <c>.npy</c> file (format versions 1–3) as a data source: a 1-D array (one feature) or a 2-D
/// array (points × features) of little- or big-endian floats (f4, f8), integers (i1–i8, u1–u8) or booleans,
/// in C or Fortran order. Points are read by position (<see cref="RandomAccess"/>, safe from several threads
/// at once) into a per-thread buffer that grows once, converted to <typeparamref name="T"/> and laid out
/// feature-major: a fit reads the file every iteration with memory independent of its size. (The file is
/// read rather than memory-mapped: mapped pages count in the process's resident memory as they are
/// touched, which would make it grow with the file.)
/// </summary>
/// <typeparam name="T">float or double: what the values are converted to (as <c>T.CreateTruncating</c> of the stored type).</typeparam>
public sealed partial class NpyDataSource<T> : FileDataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly int[] FirstColumn = [0];

    /// <summary>The first six bytes of a .npy file.</summary>
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    [ThreadStatic]
    private static byte[]? t_buffer;

    private readonly SafeFileHandle _file;
    private readonly long _dataOffset;
    private readonly long _rows;
    private readonly int _columns;
    private readonly int[] _selected;
    private readonly char _kind;
    private readonly int _size;
    private readonly bool _swap;
    private readonly bool _fortran;
    private readonly string _path;
    private readonly bool _owner;

    private NpyDataSource(string path, SafeFileHandle file, long dataOffset, long rows, int columns, int[] selected, char kind, int size, bool swap, bool fortran, bool owner = true)
    {
        _owner = owner;
        _path = path;
        _file = file;
        _dataOffset = dataOffset;
        _rows = rows;
        _columns = columns;
        _selected = selected;
        _kind = kind;
        _size = size;
        _swap = swap;
        _fortran = fortran;
    }

    /// <inheritdoc/>
    public override long Points => _rows;

    /// <inheritdoc/>
    public override int Features => _selected.Length;

    /// <inheritdoc/>
    public override string Name => _path;

    /// <summary>Columns of the array in the file.</summary>
    public int FileColumns => _columns;

    /// <summary>x1 … xD: a .npy array has no column names.</summary>
    public override IReadOnlyList<string> ColumnNames => _names ??= Enumerable.Range(1, _columns).Select(j => $"x{j}").ToArray();

    private string[]? _names;

    /// <inheritdoc/>
    public override IReadOnlyList<int> Columns => _selected;

    /// <inheritdoc/>
    public override string Locate(long row) => $"row {row + 1}";

    /// <inheritdoc/>
    public override FileDataSource<T> WithColumns(IReadOnlyList<int> columns) =>
        new NpyDataSource<T>(_path, _file, _dataOffset, _rows, _columns, CheckColumns(columns, _columns, _path), _kind, _size, _swap, _fortran, owner: false);

    /// <summary>The stored element type, as NumPy writes it (for example <c>f4</c>).</summary>
    public string ElementType => $"{_kind}{_size}";

    /// <summary>Whether the file is in Fortran (column-major) order.</summary>
    public bool FortranOrder => _fortran;

    /// <summary>Opens a .npy file and checks its header and length.</summary>
    /// <param name="path">The file.</param>
    /// <param name="columns">0-based columns to deliver, in that order, or null for all.</param>
    /// <returns>The source; dispose it to close the file.</returns>
    /// <exception cref="DataFormatException">The file is not a supported .npy array, or is truncated (the message says why).</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static NpyDataSource<T> Open(string path, IReadOnlyList<int>? columns = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            return Parse(path, file, columns);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static NpyDataSource<T> Parse(string path, SafeFileHandle file, IReadOnlyList<int>? columns)
    {
        long length = RandomAccess.GetLength(file);
        Span<byte> prefix = stackalloc byte[12];
        int got = RandomAccess.Read(file, prefix, 0);
        if (got < 10 || !prefix[..6].SequenceEqual(Magic))
        {
            throw new DataFormatException($"{path} is not a .npy file (no \\x93NUMPY header).");
        }

        int major = prefix[6];
        if (major is < 1 or > 3)
        {
            throw new DataFormatException($"{path}: .npy format version {major} is not supported (1, 2 or 3).");
        }

        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]) : got >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]) : -1;
        long headerStart = major == 1 ? 10 : 12;
        if (headerLength < 0 || headerStart + headerLength > length || headerLength > 1 << 20)
        {
            throw new DataFormatException($"{path}: the .npy header is truncated.");
        }

        byte[] headerBytes = new byte[headerLength];
        RandomAccess.Read(file, headerBytes, headerStart);
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        Match descr = Descr().Match(header);
        Match order = Fortran().Match(header);
        Match shape = Shape().Match(header);
        if (!descr.Success || !order.Success || !shape.Success)
        {
            throw new DataFormatException($"{path}: cannot read the .npy header '{Excerpt.Of(header.Trim())}'.");
        }

        bool bigEndian = descr.Groups[1].Value == ">";
        char kind = descr.Groups[2].Value[0];
        int size = int.TryParse(descr.Groups[3].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed : -1;
        bool supported = kind switch
        {
            'f' => size is 4 or 8,
            'i' or 'u' => size is 1 or 2 or 4 or 8,
            'b' => size == 1,
            _ => false,
        };
        if (!supported)
        {
            throw new DataFormatException($"{path}: .npy element type '{Excerpt.Of(descr.Groups[1].Value + descr.Groups[2].Value + descr.Groups[3].Value)}' is not supported (floats f4/f8, integers, booleans).");
        }

        long[] dims;
        try
        {
            dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new DataFormatException($"{path}: cannot read the .npy shape ({Excerpt.Of(shape.Groups[1].Value)}): expected whole numbers of at most 18 digits.");
        }

        if (dims.Length is < 1 or > 2)
        {
            throw new DataFormatException($"{path}: a .npy array of {dims.Length} dimensions; expected 1 (one column) or 2 (rows × columns).");
        }

        long rows = dims[0], cols = dims.Length == 2 ? dims[1] : 1;
        if (rows == 0 || cols == 0)
        {
            throw new DataFormatException($"{path} holds no data (shape {rows} × {cols}).");
        }

        if (cols > 1 << 20)
        {
            throw new DataFormatException($"{path}: {cols} columns are more than this reader takes (2²⁰).");
        }

        long dataOffset = headerStart + headerLength;
        Int128 needed = (Int128)rows * cols * size;
        if (dataOffset + needed > length)
        {
            throw new DataFormatException($"{path}: the file is truncated ({length - dataOffset} of {needed} data bytes).");
        }

        int[] selected = columns is null ? Enumerable.Range(0, (int)cols).ToArray() : CheckColumns(columns, (int)cols, path);

        bool swap = size > 1 && bigEndian == BitConverter.IsLittleEndian;
        return new NpyDataSource<T>(path, file, dataOffset, rows, (int)cols, selected, kind, size, swap, order.Groups[1].Value == "True");
    }

    /// <inheritdoc/>
    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        CheckRead(start, count, values, stride, sampleWeights, labels);
        if (count == 0)
        {
            return;
        }

        if (_fortran)
        {
            // Each column is contiguous: one read per delivered column.
            byte[] buffer = Buffer((long)count * _size);
            for (int j = 0; j < _selected.Length; j++)
            {
                Span<byte> raw = buffer.AsSpan(0, count * _size);
                ReadExactly(raw, _dataOffset + ((long)_selected[j] * _rows + start) * _size);
                Convert(raw, count, 1, FirstColumn, values.Slice(j * stride, count), stride);
            }

            return;
        }

        // C order: the rows are contiguous; read them at once, then transpose.
        long rowBytes = (long)_columns * _size;
        byte[] rowsBuffer = Buffer(count * rowBytes);
        Span<byte> rows = rowsBuffer.AsSpan(0, (int)(count * rowBytes));
        ReadExactly(rows, _dataOffset + start * rowBytes);
        Convert(rows, count, _columns, _selected, values, stride);
    }

    /// <summary>Converts <paramref name="count"/> stored rows of <paramref name="rowElements"/> elements (in place byte order fixed first) into the chosen columns, feature-major.</summary>
    private void Convert(Span<byte> raw, int count, int rowElements, int[] columns, Span<T> values, int stride)
    {
        if (_swap)
        {
            switch (_size)
            {
                case 2:
                    BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(raw), MemoryMarshal.Cast<byte, ushort>(raw));
                    break;
                case 4:
                    BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(raw), MemoryMarshal.Cast<byte, uint>(raw));
                    break;
                default:
                    BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(raw), MemoryMarshal.Cast<byte, ulong>(raw));
                    break;
            }
        }

        switch (_kind, _size)
        {
            case ('f', 4): Transpose<float>(raw, count, rowElements, columns, values, stride); break;
            case ('f', 8): Transpose<double>(raw, count, rowElements, columns, values, stride); break;
            case ('i', 1): Transpose<sbyte>(raw, count, rowElements, columns, values, stride); break;
            case ('i', 2): Transpose<short>(raw, count, rowElements, columns, values, stride); break;
            case ('i', 4): Transpose<int>(raw, count, rowElements, columns, values, stride); break;
            case ('i', 8): Transpose<long>(raw, count, rowElements, columns, values, stride); break;
            case ('u', 2): Transpose<ushort>(raw, count, rowElements, columns, values, stride); break;
            case ('u', 4): Transpose<uint>(raw, count, rowElements, columns, values, stride); break;
            case ('u', 8): Transpose<ulong>(raw, count, rowElements, columns, values, stride); break;
            default: Transpose<byte>(raw, count, rowElements, columns, values, stride); break;
        }
    }

    /// <summary>Row-major stored values to feature-major <typeparamref name="T"/> (the layout kernel: register-block transposes where it can).</summary>
    private static void Transpose<TStored>(ReadOnlySpan<byte> raw, int count, int rowElements, int[] columns, Span<T> values, int stride)
        where TStored : unmanaged, INumberBase<TStored> =>
        EmKernels.Kernels.LayoutKernels.RowMajorToFeatureMajor<TStored, T>(MemoryMarshal.Cast<byte, TStored>(raw), count, rowElements, columns, values, stride);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _owner)
        {
            _file.Dispose();
        }
    }

    private void ReadExactly(Span<byte> destination, long offset)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int got = RandomAccess.Read(_file, destination[done..], offset + done);
            if (got == 0)
            {
                throw new DataFormatException($"{_path} is shorter than its header says (it changed while being read?).");
            }

            done += got;
        }
    }

    private static byte[] Buffer(long bytes)
    {
        if (bytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "A read of more than 2 GB at once.");
        }

        byte[]? buffer = t_buffer;
        if (buffer is null || buffer.Length < bytes)
        {
            buffer = new byte[Math.Max(bytes, 4096)];
            t_buffer = buffer;
        }

        return buffer;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([<>|=]?)([a-zA-Z])(\d+)'")]
    private static partial Regex Descr();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex Fortran();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex Shape();
}
