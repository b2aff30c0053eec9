using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// CI runs the suite once per ISA tier, selected with runtime knobs (DOTNET_EnableAVX512=0 and so on),
/// and sets EMK_EXPECTED_TIER to the tier it meant to select. If a knob silently stops working, the
/// leg would quietly re-test the default path; this test makes that fail loudly instead. Without
/// EMK_EXPECTED_TIER the expected tier is predicted from the CPU's flags and the knobs in the environment.
/// </summary>
public sealed class IsaTierTests
{
    [Fact]
    public void ActiveVectorTier_IsTheOneThisLegExpects()
    {
        string actual = ActiveTier();
        string? expected = Environment.GetEnvironmentVariable("EMK_EXPECTED_TIER");
        if (string.IsNullOrEmpty(expected))
        {
            expected = PredictedTier();
            if (expected is null)
            {
                return; // no /proc/cpuinfo to predict from (not Linux): only CI's explicit expectation applies
            }

            // The runtime may prefer 256-bit vectors on some AVX-512 CPUs; AVX-512 then stays supported.
            if (expected == "512" && actual == "256" && Avx512F.IsSupported)
            {
                expected = "256";
            }
        }

        Assert.True(expected == actual, $"Expected vector tier {expected}, but the widest hardware-accelerated tier is {actual}.");
    }

    internal static string ActiveTier() =>
        Vector512.IsHardwareAccelerated ? "512"
        : Vector256.IsHardwareAccelerated ? "256"
        : Vector128.IsHardwareAccelerated ? "128"
        : "scalar";

    /// <summary>The tier the CPU's flags and the DOTNET_Enable* knobs should give, or null where the flags cannot be read.</summary>
    private static string? PredictedTier()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo"))
        {
            return null;
        }

        string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        if (line is null)
        {
            return null;
        }

        var flags = new HashSet<string>(line.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        bool Off(string knob) => Environment.GetEnvironmentVariable(knob) == "0";
        if (Off("DOTNET_EnableHWIntrinsic"))
        {
            return "scalar";
        }

        if (flags.Contains("avx512f") && flags.Contains("avx512bw") && !Off("DOTNET_EnableAVX512") && !Off("DOTNET_EnableAVX2"))
        {
            return "512";
        }

        if (flags.Contains("avx2") && !Off("DOTNET_EnableAVX2"))
        {
            return "256";
        }

        return flags.Contains("sse4_2") ? "128" : "scalar";
    }
}
