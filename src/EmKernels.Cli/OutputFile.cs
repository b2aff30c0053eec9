using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EmKernels.Cli;

/// <summary>
/// Output files written completely or not at all, and never at the cost of something else at the path:
/// <list type="bullet">
/// <item>a regular file (or none) is replaced atomically: the content goes to a new temporary file beside
/// it, renamed over it when complete (keeping the old file's permissions);</item>
/// <item>a symbolic link is followed: its final target is what gets replaced, the link stays;</item>
/// <item>a FIFO, a device (<c>/dev/null</c>, a terminal) or a descriptor link (<c>/dev/stdout</c>,
/// <c>/dev/fd/N</c>, <c>/proc/…</c>) is written in place, appending, never replaced or truncated;</item>
/// <item>a directory or a socket is refused, as is a path whose directory does not exist.</item>
/// </list>
/// Every failure is a <see cref="UsageException"/> (one line, exit code 2) and leaves no temporary file,
/// also when the process is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT) while writing.
/// </summary>
internal static class OutputFile
{
    private static readonly object Gate = new();
    private static readonly HashSet<string> Pending = [];
    private static PosixSignalRegistration[]? s_signals;

    /// <summary>What a path names, without following a final symbolic link.</summary>
    internal enum Kind
    {
        Missing,
        Regular,
        Directory,
        SymbolicLink,
        Fifo,
        CharacterDevice,
        BlockDevice,
        Socket,
    }

    /// <summary>Writes <paramref name="write"/>'s output to <paramref name="path"/> as described for the class.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"cannot write '{path}': {e.Message}");
        }

        try
        {
            if (IsDescriptorLink(full))
            {
                InPlace(full, write);
                return;
            }

            string target = FinalTarget(full);
            switch (KindOf(target))
            {
                case Kind.Missing or Kind.Regular:
                    Replace(target, write);
                    break;
                case Kind.Fifo or Kind.CharacterDevice or Kind.BlockDevice:
                    InPlace(target, write);
                    break;
                case Kind.Directory:
                    throw new UsageException($"cannot write '{path}': it is a directory.");
                default:
                    throw new UsageException($"cannot write '{path}': it is a socket or another kind of file that is not written to.");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot write '{path}': {OneLine(e.Message)}");
        }
    }

    /// <summary>Writes text to the file, or to <paramref name="console"/> when <paramref name="path"/> is null.</summary>
    public static void WriteText(string? path, TextWriter console, Action<TextWriter> write)
    {
        if (path is null)
        {
            write(console);
            return;
        }

        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, encoding: null, bufferSize: 1 << 16, leaveOpen: true);
            write(writer);
            writer.Flush();
        });
    }

    /// <summary>What <paramref name="path"/> names (Linux: statx without following a final link; elsewhere: file, directory or nothing).</summary>
    internal static Kind KindOf(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            byte[] status = new byte[256];
            try
            {
                if (Native.statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxType, status) != 0)
                {
                    int error = Marshal.GetLastPInvokeError();
                    return error is ENOENT or ENOTDIR
                        ? Kind.Missing
                        : throw new IOException($"cannot inspect it ({Marshal.GetPInvokeErrorMessage(error)}).");
                }

                return (BinaryPrimitives.ReadUInt16LittleEndian(status.AsSpan(28)) & 0xF000) switch
                {
                    0x8000 => Kind.Regular,
                    0x4000 => Kind.Directory,
                    0xA000 => Kind.SymbolicLink,
                    0x1000 => Kind.Fifo,
                    0x2000 => Kind.CharacterDevice,
                    0x6000 => Kind.BlockDevice,
                    _ => Kind.Socket,
                };
            }
            catch (EntryPointNotFoundException)
            {
                // A C library without statx (glibc < 2.28): fall through to what .NET can tell.
            }
        }

        return Directory.Exists(path) ? Kind.Directory : File.Exists(path) ? Kind.Regular : Kind.Missing;
    }

    /// <summary>Links that stand for an open descriptor: what they name is not a file to replace but a stream to append to.</summary>
    private static bool IsDescriptorLink(string full) =>
        OperatingSystem.IsLinux()
        && (full.StartsWith("/proc/", StringComparison.Ordinal) || full.StartsWith("/dev/fd/", StringComparison.Ordinal)
            || full is "/dev/stdout" or "/dev/stderr" or "/dev/stdin" or "/dev/tty");

    /// <summary>The path at the end of a chain of symbolic links (the path itself if it is not one).</summary>
    private static string FinalTarget(string full)
    {
        string current = full;
        for (int hop = 0; hop < 40; hop++)
        {
            if (KindOf(current) != Kind.SymbolicLink || File.ResolveLinkTarget(current, returnFinalTarget: false) is not { } next)
            {
                return current;
            }

            current = next.FullName;
            if (IsDescriptorLink(current))
            {
                return current;
            }
        }

        throw new IOException("too many levels of symbolic links.");
    }

    /// <summary>Writes to a new temporary file beside <paramref name="target"/>, then renames it over the target.</summary>
    private static void Replace(string target, Action<Stream> write)
    {
        string folder = Path.GetDirectoryName(target) ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new IOException($"the directory '{folder}' does not exist.");
        }

        string temporary = Path.Combine(folder, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Track(temporary);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                if (!OperatingSystem.IsWindows() && File.Exists(target))
                {
                    File.SetUnixFileMode(stream.SafeFileHandle, File.GetUnixFileMode(target));
                }

                write(stream);
                stream.Flush(flushToDisk: false);
            }

            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            Untrack(temporary);
        }
    }

    /// <summary>Appends to a FIFO, a device or a descriptor's file without replacing or truncating it.</summary>
    private static void InPlace(string target, Action<Stream> write)
    {
        using var stream = new FileStream(target, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 1 << 16);
        write(stream);
        stream.Flush();
    }

    private static void Track(string temporary)
    {
        lock (Gate)
        {
            Pending.Add(temporary);
            if (s_signals is null && !OperatingSystem.IsWindows())
            {
                s_signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT }
                    .Select(signal => PosixSignalRegistration.Create(signal, _ => RemovePending()))];
                AppDomain.CurrentDomain.ProcessExit += (_, _) => RemovePending();
            }
        }
    }

    /// <summary>Removes the temporary file if it is still there (it is not after a successful rename) and forgets it.</summary>
    private static void Untrack(string temporary)
    {
        lock (Gate)
        {
            Pending.Remove(temporary);
            TryDelete(temporary);
        }
    }

    /// <summary>On a signal or at exit: the temporary files of writes in progress go; the signal then takes its course.</summary>
    private static void RemovePending()
    {
        lock (Gate)
        {
            foreach (string temporary in Pending)
            {
                TryDelete(temporary);
            }

            Pending.Clear();
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing to remove, or nothing we may remove.
        }
    }

    private static string OneLine(string message) => string.Join(" ", message.Split((char[])['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        internal static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] status);
    }
}
