using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using EmKernels.Engine;
using EmKernels.IO;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Parquet;
using Parquet.Schema;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The file sources of EmKernels.IO: every value reads back exactly as stored, in any chunk and column
/// order; malformed files are one clear message naming the place; and a fit streamed from a file is
/// bitwise the fit of the same values in memory.
/// </summary>
public sealed class DataFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-io-tests-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Theory]
    [InlineData("<f8", false)]
    [InlineData("<f4", false)]
    [InlineData(">f8", false)]
    [InlineData("<f8", true)]
    [InlineData(">f4", true)]
    [InlineData("<i4", false)]
    [InlineData(">i2", false)]
    [InlineData("<u8", true)]
    [InlineData("|u1", false)]
    [InlineData("|b1", false)]
    [InlineData("<i8", false)]
    public void Npy_EveryElementType_ReadsBackExactly_InAnyChunk(string descr, bool fortran)
    {
        var random = new Random(descr.GetHashCode(StringComparison.Ordinal) ^ (fortran ? 1 : 0));
        const int n = 1000, d = 3;
        double[] values = Enumerable.Range(0, n * d).Select(_ => descr[1] switch
        {
            'f' => Math.Round(random.NextDouble() * 200 - 100, 3),
            'b' => random.Next(2),
            'u' => random.Next(200),
            _ => random.Next(-100, 100),
        }).ToArray();
        string path = Path.Combine(_folder.FullName, "a.npy");
        WriteNpy(path, values, n, d, descr, fortran);
        using FileDataSource<double> source = FileDataSource<double>.Open(path);
        Assert.IsType<NpyDataSource<double>>(source);
        Assert.Equal(n, source.Points);
        Assert.Equal(d, source.Features);
        double[] expected = descr[1] == 'f' && descr[2] == '4' ? values.Select(v => (double)(float)v).ToArray() : values;
        AssertReadsBack(source, expected, n, d, random);
        using FileDataSource<double> swapped = source.WithColumns([2, 0]);
        double[] buffer = new double[2 * 7];
        swapped.Read(500, 7, buffer, 7, default, default);
        for (int i = 0; i < 7; i++)
        {
            Assert.Equal(expected[(500 + i) * d + 2], buffer[i]);
            Assert.Equal(expected[(500 + i) * d], buffer[7 + i]);
        }
    }

    [Fact]
    public void Npy_MalformedFiles_AreOneClearMessage()
    {
        string path = Path.Combine(_folder.FullName, "bad.npy");
        WriteNpy(path, [1, 2, 3, 4], 2, 2, "<f8", false);
        byte[] whole = File.ReadAllBytes(path);
        File.WriteAllBytes(path, whole[..^4]);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => NpyDataSource<double>.Open(path)).Message, StringComparison.Ordinal);
        WriteNpy(path, [1, 2, 3, 4], 2, 2, "<c16", false);
        Assert.Contains("not supported", Assert.Throws<DataFormatException>(() => NpyDataSource<double>.Open(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, "not numpy");
        Assert.Contains("not a .npy file", Assert.Throws<DataFormatException>(() => NpyDataSource<double>.Open(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_Rules_HeaderSeparatorQuotesCommentsAndLineEndings()
    {
        string path = Path.Combine(_folder.FullName, "a.csv");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("# a comment\r\n\"first col\";b ;c\r\n\r\n1.5; -2 ;\"3e-1\"\r\n# between\r\n4;5;6\r\n  \r\n7;8;9")]);
        using var source = CsvDataSource<double>.Open(path);
        Assert.Equal(';', source.Separator);
        Assert.Equal(["first col", "b", "c"], source.ColumnNames);
        Assert.Equal(3, source.Points);
        double[] values = new double[9];
        source.Read(0, 3, values, 3, default, default);
        Assert.Equal([1.5, 4, 7, -2, 5, 8, 0.3, 6, 9], values);
        Assert.Equal(4, source.LineOf(0));
        Assert.Equal(6, source.LineOf(1));
        Assert.Equal(8, source.LineOf(2));
        Assert.Equal("line 8", source.Locate(2));

        File.WriteAllText(path, "1\t2\n3\t4\n");
        using var headerless = CsvDataSource<double>.Open(path);
        Assert.Equal('\t', headerless.Separator);
        Assert.Equal(["x1", "x2"], headerless.ColumnNames);
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,x\n", "line 3, column 'b': 'x' is not a number")]
    [InlineData("a,b\n1,2\n3\n", "line 3: 1 fields, but the header has 2")]
    [InlineData("1,2\n3,4,5\n", "line 2: 3 fields, but the first row has 2")]
    [InlineData("a,b\n1,2\nNaN,4\n", "line 3, column 'a': 'NaN' is not a finite number")]
    [InlineData("a,b\n1,2\n,4\n", "line 3, column 'a': the cell is empty")]
    [InlineData("a,b\n1,\"2\n", "line 2: malformed CSV")]
    [InlineData("a,b\n", "has a header line but no data rows")]
    [InlineData("", "is empty")]
    public void Csv_BadFiles_NameTheLineAndColumn(string content, string message)
    {
        string path = Path.Combine(_folder.FullName, "bad.csv");
        File.WriteAllText(path, content);
        Assert.Contains(message, Assert.Throws<DataFormatException>(() => CsvDataSource<double>.Open(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_LargeFile_ReadsBackExactly_AcrossIndexEntries()
    {
        var random = new Random(5);
        const int n = 20_000, d = 4;
        double[] values = Enumerable.Range(0, n * d).Select(_ => random.NextDouble() * 1e3 - 500).ToArray();
        string path = Path.Combine(_folder.FullName, "big.csv");
        var text = new StringBuilder("a,b,c,d\n");
        for (int i = 0; i < n; i++)
        {
            text.AppendLine(string.Join(",", values.Skip(i * d).Take(d).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            if (i % 997 == 0)
            {
                text.AppendLine("# a comment");
            }
        }

        File.WriteAllText(path, text.ToString());
        using var source = CsvDataSource<double>.Open(path);
        AssertReadsBack(source, values, n, d, random);
    }

    [Fact]
    public void Parquet_RowGroups_ReadBackExactly_NullsAreNaN()
    {
        var random = new Random(2);
        const int n = 2500;
        double[] x = Enumerable.Range(0, n).Select(_ => random.NextDouble()).ToArray();
        float[] y = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        int[] z = Enumerable.Range(0, n).Select(_ => random.Next(100)).ToArray();
        string path = Path.Combine(_folder.FullName, "a.parquet");
        WriteParquet(path, x, y, z, rowGroup: 1000);
        using FileDataSource<double> source = FileDataSource<double>.Open(path);
        var parquet = Assert.IsType<ParquetDataSource<double>>(source);
        Assert.Equal(3, parquet.RowGroups);
        Assert.Equal(["x", "y", "z", "name"], source.ColumnNames);
        Assert.Equal([0, 1, 2], source.Columns); // the string column is not delivered
        double[] expected = Enumerable.Range(0, n).SelectMany(i => new[] { x[i], (double)y[i], z[i] }).ToArray();
        AssertReadsBack(source, expected, n, 3, random);
        Assert.Throws<DataFormatException>(() => source.WithColumns([3]));
    }

    [Fact]
    public void StreamedFits_FromEveryFormat_AreBitwiseTheInMemoryFit()
    {
        var random = new Random(7);
        const int n = 9000, d = 3;
        double[] values = Models.Data("full", n, d, random).Select(v => Math.Round(v, 6)).ToArray();
        string npy = Path.Combine(_folder.FullName, "x.npy");
        string csv = Path.Combine(_folder.FullName, "x.csv");
        string parquet = Path.Combine(_folder.FullName, "x.parquet");
        WriteNpy(npy, values, n, d, "<f8", false);
        File.WriteAllText(csv, string.Join("\n", Enumerable.Range(0, n).Select(i => string.Join(",", values.Skip(i * d).Take(d).Select(v => v.ToString("R", CultureInfo.InvariantCulture))))));
        WriteParquet(parquet, Enumerable.Range(0, n).Select(i => values[i * d]).ToArray(), null, null, rowGroup: 2000,
            Enumerable.Range(0, n).Select(i => values[i * d + 1]).ToArray(), Enumerable.Range(0, n).Select(i => values[i * d + 2]).ToArray());
        double[] expected = Fit(new InMemoryDataSource<double>(values, n, d));
        foreach (string path in new[] { npy, csv, parquet })
        {
            using FileDataSource<double> source = FileDataSource<double>.Open(path);
            Assert.Equal(expected, Fit(source));
        }
    }

    private static double[] Fit(DataSource<double> data)
    {
        var model = new FiniteMixture<double>(new FullCovarianceComponents<double>(3, 3));
        ExpectationMaximization.Fit(model, data, new ExpectationMaximizationOptions { MaxIterations = 8, Tolerance = 0, Seed = 4 });
        double[] parameters = new double[model.ParameterLength];
        model.WriteParameters(parameters);
        return parameters;
    }

    /// <summary>Random ranges read back the expected values (row-major <paramref name="expected"/>), feature-major with padding.</summary>
    private static void AssertReadsBack(DataSource<double> source, double[] expected, int n, int d, Random random)
    {
        for (int trial = 0; trial < 30; trial++)
        {
            int start = random.Next(n);
            int count = random.Next(0, Math.Min(n - start, 3000) + 1);
            int stride = count + random.Next(3);
            double[] buffer = new double[Math.Max(1, d * stride)];
            source.Read(start, count, buffer, stride, default, default);
            for (int i = 0; i < count; i++)
            {
                for (int j = 0; j < d; j++)
                {
                    Assert.Equal(expected[(start + i) * d + j], buffer[j * stride + i]);
                }
            }
        }
    }

    internal static void WriteNpy(string path, double[] values, int n, int d, string descr, bool fortran)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({n}, {d}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        writer.Write((ushort)header.Length);
        writer.Write(Encoding.ASCII.GetBytes(header));
        bool big = descr[0] == '>';
        for (int e = 0; e < n * d; e++)
        {
            double v = fortran ? values[(e % n) * d + e / n] : values[e];
            byte[] bytes = descr[1..] switch
            {
                "f8" => BitConverter.GetBytes(v),
                "f4" => BitConverter.GetBytes((float)v),
                "i4" => BitConverter.GetBytes((int)v),
                "i2" => BitConverter.GetBytes((short)v),
                "i8" => BitConverter.GetBytes((long)v),
                "u8" => BitConverter.GetBytes((ulong)v),
                "u1" or "b1" => [(byte)v],
                _ => new byte[16],
            };
            if (big)
            {
                Array.Reverse(bytes);
            }

            writer.Write(bytes);
        }
    }

    /// <summary>A Parquet file with columns x (double), y (float), z (int) and a string column "name", in row groups.</summary>
    internal static void WriteParquet(string path, double[] x, float[]? y, int[]? z, int rowGroup, double[]? second = null, double[]? third = null)
    {
        var fields = new List<DataField> { new DataField<double>("x") };
        if (y is not null)
        {
            fields.Add(new DataField<float>("y"));
            fields.Add(new DataField<int>("z"));
            fields.Add(new DataField<string>("name"));
        }
        else
        {
            fields.Add(new DataField<double>("y"));
            fields.Add(new DataField<double>("z"));
        }

        var schema = new ParquetSchema(fields.ToArray<Field>());
        using FileStream stream = File.Create(path);
        ParquetWriter writer = ParquetWriter.CreateAsync(schema, stream, null, false, default).GetAwaiter().GetResult();
        for (int start = 0; start < x.Length; start += rowGroup)
        {
            int count = Math.Min(rowGroup, x.Length - start);
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            group.WriteAsync<double>(fields[0], x.AsMemory(start, count), null, null, default).GetAwaiter().GetResult();
            if (y is not null)
            {
                group.WriteAsync<float>(fields[1], y.AsMemory(start, count), null, null, default).GetAwaiter().GetResult();
                group.WriteAsync<int>(fields[2], z!.AsMemory(start, count), null, null, default).GetAwaiter().GetResult();
                group.WriteAsync(fields[3], Enumerable.Range(start, count).Select(i => $"p{i}").ToArray(), null).GetAwaiter().GetResult();
            }
            else
            {
                group.WriteAsync<double>(fields[1], second!.AsMemory(start, count), null, null, default).GetAwaiter().GetResult();
                group.WriteAsync<double>(fields[2], third!.AsMemory(start, count), null, null, default).GetAwaiter().GetResult();
            }
        }

        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
