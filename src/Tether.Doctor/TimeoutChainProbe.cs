using Tether.Configuration;

namespace Tether.Doctor;

/// <summary>`tether check --config FILE --probe`: the timeout chain (issue 7 fills this in).</summary>
public static class TimeoutChainProbe
{
    /// <returns>0 when every hop passes, 1 when any fails.</returns>
    public static Task<int> RunAsync(TetherConfig config, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine("timeout chain probe: not built yet");
        return Task.FromResult(0);
    }
}
