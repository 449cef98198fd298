using System.Diagnostics;

namespace Tether.FunctionalTests.Draining;

/// <summary>Waits for a condition on real time (functional tests only), failing after 10 s.</summary>
internal static class Poll
{
    public static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 10);
        while (!condition())
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, "condition not met within 10 s");
            await Task.Delay(20);
        }
    }
}
