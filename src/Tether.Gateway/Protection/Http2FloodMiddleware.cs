using System.Buffers;
using System.IO.Pipelines;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Tether.Configuration;

namespace Tether.Gateway.Protection;

/// <summary>
/// The HTTP/2 limits of <see cref="Http2FloodMiddleware"/> a listener's new connections start with; a reload
/// replaces them (as it does Kestrel's own limits), connections already open keep theirs.
/// </summary>
internal sealed class Http2FrameLimits(DownstreamConfig downstream)
{
    private volatile DownstreamConfig _downstream = downstream;

    public int MaxControlFramesPerSecond => _downstream.Http2.MaxControlFramesPerSecond;

    public int MaxRequestHeadersSize => _downstream.MaxRequestHeadersSize;

    public void Apply(DownstreamConfig downstream) => _downstream = downstream;
}

/// <summary>
/// Kestrel connection middleware on HTTP/2 connections (h2c once the preface has chosen HTTP/2, TLS once ALPN
/// chose h2): puts an <see cref="Http2FrameGuard"/> between the transport and Kestrel. Kestrel (.NET 10) answers
/// every SETTINGS and PING with an ACK and reads empty CONTINUATION frames until requestHeadersTimeout, with no
/// count; over the guard's limits the connection ends with GOAWAY ENHANCE_YOUR_CALM and is counted as
/// <c>http2Flood</c>.
/// </summary>
/// <remarks>
/// The guard sees the bytes on their way into Kestrel's own input copy (Http2Connection reads the transport in a
/// loop that consumes all it is given), parses frame headers only and copies nothing. Kestrel has no public way
/// to end an HTTP/2 connection with a chosen error code: the reader throws Kestrel's internal
/// Http2ConnectionErrorException (found by reflection, as <see cref="Listeners.H2cPrefaceMiddleware"/> finds the
/// protocol feature), which Kestrel's frame loop catches like its own connection errors: GOAWAY with that code,
/// a Debug log line, streams aborted. Without that type the connection is aborted instead (a TCP close).
/// </remarks>
internal sealed partial class Http2FloodMiddleware(
    ConnectionDelegate next, Func<ConnectionContext, bool> isHttp2, Http2FrameLimits limits, ConnectionCloseCounters closed, TimeProvider timeProvider, ILogger logger)
{
    private const int EnhanceYourCalm = 0xb;

    private static readonly Assembly _kestrel = typeof(KestrelServerOptions).Assembly;
    private static readonly Type? _errorCodeType = _kestrel.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http2.Http2ErrorCode", throwOnError: false);
    private static readonly Type? _endReasonType = _kestrel.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.ConnectionEndReason", throwOnError: false);
    private static readonly ConstructorInfo? _connectionError = _errorCodeType is null || _endReasonType is null
        ? null
        : _kestrel.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http2.Http2ConnectionErrorException", throwOnError: false)?
            .GetConstructor(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, [typeof(string), _errorCodeType, _endReasonType]);

    /// <summary>True when connections can be ended with GOAWAY ENHANCE_YOUR_CALM (else they are aborted).</summary>
    internal static bool CanSendGoAway => _connectionError is not null;

    private long Timestamp => timeProvider.GetTimestamp();

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        if (isHttp2(connection))
        {
            var guard = new Http2FrameGuard(limits.MaxControlFramesPerSecond, limits.MaxRequestHeadersSize, timeProvider.TimestampFrequency);
            var transport = connection.Transport;
            connection.Transport = new GuardedTransport(
                new GuardedReader(transport.Input, guard, this, connection), new CountingWriter(transport.Output, guard));

            // HTTP/2 pipelines are the ones Kestrel abandons after reset floods; a stop must not wait for them.
            return AbandonedPipeline.RunAsync(next, connection, timeProvider);
        }

        return next(connection);
    }

    private Exception Refuse(ConnectionContext connection, Http2FrameGuard guard, Http2FrameVerdict verdict)
    {
        closed.Increment(ProtectionCloseReason.Http2Flood);
        string message;
        string endReason;
        if (verdict == Http2FrameVerdict.ControlFlood)
        {
            message = $"more than {limits.MaxControlFramesPerSecond} control frames in one second (downstream.http2.maxControlFramesPerSecond)";
            endReason = "OtherError";
        }
        else
        {
            message = $"a header block of more than {Http2FrameGuard.MaxContinuationFrames} CONTINUATION frames or 2 x downstream.maxRequestHeadersSize + 16 KiB";
            endReason = "MaxRequestHeadersTotalSizeExceeded";
        }

        Log.Refused(logger, connection.RemoteEndPoint?.ToString(), message);
        if (_connectionError is not null && Enum.TryParse(_endReasonType!, endReason, out var reason))
        {
            return (Exception)_connectionError.Invoke([message, Enum.ToObject(_errorCodeType!, EnhanceYourCalm), reason]);
        }

        var aborted = new ConnectionAbortedException(message);
        connection.Abort(aborted);
        return aborted;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3003, EventName = "Http2Flood", Level = LogLevel.Debug,
            Message = "HTTP/2 connection from {Peer} closed with ENHANCE_YOUR_CALM: {Why}")]
        public static partial void Refused(ILogger logger, string? peer, string why);
    }

    private sealed class GuardedTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>
    /// Shows the guard each byte once: <c>_seen</c> bytes at the start of the last buffer were scanned, and what
    /// the reader consumes is taken off. Kestrel's copy loop consumes everything it copies, so that is usually 0.
    /// </summary>
    private sealed class GuardedReader(PipeReader inner, Http2FrameGuard guard, Http2FloodMiddleware owner, ConnectionContext connection) : PipeReader
    {
        private ReadOnlySequence<byte> _last;
        private long _seen;

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var pending = inner.ReadAsync(cancellationToken);
            return pending.IsCompletedSuccessfully ? new ValueTask<ReadResult>(Inspect(pending.Result)) : AwaitAsync(pending);
        }

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result))
            {
                return false;
            }

            result = Inspect(result);
            return true;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            _seen = consumed.Equals(_last.End) ? 0 : _seen - _last.Slice(_last.Start, consumed).Length;
            _last = default;
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        private async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> pending) => Inspect(await pending.ConfigureAwait(false));

        private ReadResult Inspect(in ReadResult result)
        {
            var buffer = result.Buffer;
            _last = buffer;
            if (buffer.Length > _seen)
            {
                var verdict = guard.Scan(_seen == 0 ? buffer : buffer.Slice(_seen), owner.Timestamp);
                _seen = buffer.Length;
                if (verdict != Http2FrameVerdict.Ok)
                {
                    // Nothing more of this connection reaches Kestrel: the read ends in the error it reports.
                    inner.AdvanceTo(buffer.End);
                    throw owner.Refuse(connection, guard, verdict);
                }
            }

            return result;
        }
    }

    /// <summary>Counts the bytes Kestrel writes to the client: they pay for the client's WINDOW_UPDATEs.</summary>
    private sealed class CountingWriter(PipeWriter inner, Http2FrameGuard guard) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            guard.OnWritten(bytes);
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            guard.OnWritten(source.Length);
            return inner.WriteAsync(source, cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
