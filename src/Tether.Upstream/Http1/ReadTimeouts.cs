namespace Tether.Upstream.Http1;

/// <summary>
/// How long a read of a response may wait. <see cref="Response"/> is responseTimeout: between two reads of the body,
/// and, when <see cref="Idle"/> is set, the whole wait for the response head. <see cref="Idle"/> is readIdleTimeout
/// (validated below responseTimeout): the longest the backend may be silent while a response is awaited or streamed.
/// </summary>
public readonly record struct ReadTimeouts(TimeSpan Response, TimeSpan? Idle = null)
{
    /// <summary>The wait for the next read, <paramref name="waited"/> into the response head (zero in the body), and
    /// whether the idle bound is the one that will fire.</summary>
    public TimeSpan NextWait(TimeSpan waited, out bool idleBound)
    {
        if (Idle is not { } idle)
        {
            idleBound = false;
            return Response;
        }

        // At least a millisecond: a zero wait would cancel before the socket is even asked.
        var left = Response - waited;
        idleBound = idle < left;
        return idleBound ? idle : left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }
}
