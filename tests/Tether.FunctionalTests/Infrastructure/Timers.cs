namespace Tether.FunctionalTests.Infrastructure;

/// <summary>What a test may assume of the runtime's timers when it checks that a bound was not cut short.</summary>
internal static class Timers
{
    /// <summary>
    /// How early a timer may fire by the Stopwatch. The runtime's timers count in coarse ticks
    /// (Environment.TickCount64: 4 ms at HZ=250), so a 400 ms timer was seen firing at 398.9 ms in CI. A lower bound of
    /// "the timeout minus this" still fails a timer that is not armed.
    /// </summary>
    public static readonly TimeSpan EarlyFire = TimeSpan.FromMilliseconds(20);
}
