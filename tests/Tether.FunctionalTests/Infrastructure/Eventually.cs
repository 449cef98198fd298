namespace Tether.FunctionalTests.Infrastructure;

/// <summary>For state another thread settles just after the event a test can observe (a pool release after the client saw the close).</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string because, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(5)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!condition())
        {
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, because);
            await Task.Delay(10);
        }
    }
}
