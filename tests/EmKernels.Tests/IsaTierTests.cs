using System.Runtime.Intrinsics;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// CI runs the suite once per ISA tier, selected with runtime knobs (DOTNET_EnableAVX512=0 and so on),
/// and sets EMK_EXPECTED_TIER to the tier it meant to select. If a knob silently stops working, the
/// leg would quietly re-test the default path; this test makes that fail loudly instead.
/// </summary>
public sealed class IsaTierTests
{
    [Fact]
    public void ActiveVectorTier_IsTheOneThisLegExpects()
    {
        string? expected = Environment.GetEnvironmentVariable("EMK_EXPECTED_TIER");
        string actual = ActiveTier();
        if (string.IsNullOrEmpty(expected))
        {
            // Outside CI's matrix any tier is fine, but it must be one of the four.
            Assert.Contains(actual, new[] { "512", "256", "128", "scalar" });
            return;
        }

        Assert.True(expected == actual, $"EMK_EXPECTED_TIER={expected}, but the widest hardware-accelerated vector tier is {actual}.");
    }

    internal static string ActiveTier() =>
        Vector512.IsHardwareAccelerated ? "512"
        : Vector256.IsHardwareAccelerated ? "256"
        : Vector128.IsHardwareAccelerated ? "128"
        : "scalar";
}
