using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tether.Configuration;

namespace Tether.Gateway.Observability;

/// <summary>
/// The access log (nginx access_log): requests hand their <see cref="AccessLogEntry"/> to a bounded queue and go
/// on; one writer task formats and writes the lines in batches, to stdout or a file. A full queue drops the line
/// and counts it, it never makes a request wait. <see cref="Reopen"/> (SIGUSR1) closes the file and opens the path
/// again, for logrotate. Path and format follow a reload (<see cref="Reconfigure"/>); the queue size is fixed at start.
/// </summary>
internal sealed partial class AccessLog : IAsyncDisposable
{
    // stdout is usually a pipe (a terminal, journald, a container runtime): a write up to PIPE_BUF is never
    // interleaved with the process's other log lines. A file takes larger batches.
    private const int StdoutBatchBytes = 4096;
    private const int FileBatchBytes = 64 * 1024;

    // The writer drains the queue, then lets lines gather this long before it looks again: waking it per line
    // (a thread-pool dispatch and a write per request) cost more than formatting the line.
    private static readonly TimeSpan s_gatherTime = TimeSpan.FromMilliseconds(100);

    private readonly Channel<AccessLogEntry> _queue;
    private readonly ILogger _log;
    private readonly Func<Stream> _openStdout;
    private readonly Lock _sinkLock = new();
    private readonly Thread _writer;
    private volatile AccessLogConfig _config;
    private Stream? _sink;
    private long _written;
    private long _dropped;
    private long _failed;
    private long _lastErrorLogged = long.MinValue;
    private volatile bool _closing;

    public AccessLog(AccessLogConfig config, ILogger log, Func<Stream>? openStdout = null)
    {
        _config = config;
        _log = log;
        _openStdout = openStdout ?? Console.OpenStandardOutput;
        QueueSize = config.QueueSize;
        _queue = Channel.CreateBounded<AccessLogEntry>(
            new BoundedChannelOptions(config.QueueSize) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
        // Its own thread: a sink that blocks (a full pipe, a stalled disk) holds this thread, not one of the pool's.
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "tether-access-log" };
        _writer.Start();
    }

    /// <summary>False while accessLog.path is "off": no entry is made.</summary>
    public bool Enabled => !_config.IsOff;

    public AccessLogConfig Config => _config;

    public int QueueSize { get; }

    /// <summary>Lines written to the sink.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Lines dropped because the queue was full (the sink could not keep up).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Lines lost to a failed write (disk full, file not writable).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Lines waiting in the queue now.</summary>
    public int Queued => _queue.Reader.CanCount ? _queue.Reader.Count : 0;

    /// <summary>Hands a finished entry to the writer; never waits.</summary>
    public void Enqueue(AccessLogEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            Interlocked.Increment(ref _dropped); // closed: the gateway is shutting down
        }
    }

    /// <summary>Closes the file and opens its path again (SIGUSR1, after logrotate moved it); nothing for stdout.</summary>
    public void Reopen()
    {
        lock (_sinkLock)
        {
            CloseSink();
            if (!_config.IsOff && !_config.IsStdout)
            {
                Log.Reopened(_log, _config.Path);
            }
        }
    }

    /// <summary>A reload's accessLog: a new path is opened for the next lines, a new format applies to them.</summary>
    public void Reconfigure(AccessLogConfig config)
    {
        lock (_sinkLock)
        {
            if (!string.Equals(config.Path, _config.Path, StringComparison.Ordinal))
            {
                CloseSink();
            }

            _config = config;
        }
    }

    /// <summary>Writes what is queued, then closes the sink.</summary>
    public async ValueTask DisposeAsync()
    {
        _closing = true;
        _queue.Writer.TryComplete();
        await Task.Run(() => _writer.Join(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        lock (_sinkLock)
        {
            CloseSink();
        }
    }

    private void WriteLoop()
    {
        var reader = _queue.Reader;
        var buffer = new ArrayBufferWriter<byte>(FileBatchBytes + 8192);
        var formatter = new AccessLogFormatter();
        while (Wait(reader))
        {
            if (!_closing)
            {
                Thread.Sleep(s_gatherTime);
            }

            var config = _config;
            var batchBytes = config.IsStdout ? StdoutBatchBytes : FileBatchBytes;
            var lines = 0;
            while (reader.TryRead(out var entry))
            {
                var before = buffer.WrittenCount;
                formatter.Write(buffer, entry, config.Format);
                lines++;
                if (buffer.WrittenCount >= batchBytes)
                {
                    if (lines > 1 && buffer.WrittenCount > batchBytes)
                    {
                        // This line would make the batch too large: it starts the next one.
                        var line = buffer.WrittenSpan[before..].ToArray();
                        Flush(buffer, before, lines - 1, config);
                        buffer.ResetWrittenCount();
                        buffer.Write(line);
                        lines = 1;
                        continue;
                    }

                    Flush(buffer, buffer.WrittenCount, lines, config);
                    buffer.ResetWrittenCount();
                    lines = 0;
                }
            }

            if (lines > 0)
            {
                Flush(buffer, buffer.WrittenCount, lines, config);
                buffer.ResetWrittenCount();
            }
        }
    }

    private static bool Wait(ChannelReader<AccessLogEntry> reader)
    {
        var wait = reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private void Flush(ArrayBufferWriter<byte> buffer, int length, int lines, AccessLogConfig config)
    {
        lock (_sinkLock)
        {
            if (config.IsOff)
            {
                return; // turned off by a reload while these waited
            }

            try
            {
                _sink ??= config.IsStdout ? _openStdout() : OpenFile(config.Path);
                _sink.Write(buffer.WrittenSpan[..length]);
                _sink.Flush();
                Interlocked.Add(ref _written, lines);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                Interlocked.Add(ref _failed, lines);
                CloseSink();

                // Once a minute at most: a full disk must not turn into a log line per request.
                var now = Environment.TickCount64;
                if (now - _lastErrorLogged >= 60_000)
                {
                    _lastErrorLogged = now;
                    Log.WriteFailed(_log, config.IsStdout ? "stdout" : config.Path, ex.Message, lines);
                }
            }
        }
    }

    private static FileStream OpenFile(string path) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
        });

    private void CloseSink()
    {
        var sink = _sink;
        _sink = null;
        try
        {
            sink?.Dispose();
        }
        catch (IOException)
        {
            // A close that fails (the disk went away) leaves nothing to keep.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4040, EventName = "AccessLogReopened", Level = LogLevel.Information, Message = "access log {Path} reopened")]
        public static partial void Reopened(ILogger logger, string path);

        [LoggerMessage(EventId = 4041, EventName = "AccessLogWriteFailed", Level = LogLevel.Error,
            Message = "access log {Path}: writing failed ({Reason}); {Lines} line(s) lost, the next lines try to open it again (logged once a minute at most)")]
        public static partial void WriteFailed(ILogger logger, string path, string reason, int lines);
    }
}
