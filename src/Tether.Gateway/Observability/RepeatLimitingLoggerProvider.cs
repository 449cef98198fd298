using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tether.Gateway.Observability;

/// <summary>
/// Passes log entries to an inner logger factory, except that Kestrel's Warning-and-above entries are limited to
/// <see cref="MaxPerWindow"/> per category and event id per <see cref="Window"/>; the rest are counted and one line
/// per window says how many were left out.
/// </summary>
/// <remarks>
/// Under an HTTP/2 reset flood Kestrel logs "exceeded the output operations maximum queue size" (Critical) once for
/// every operation it drops, up to hundreds for one connection within a millisecond: 824 lines (230 KB) in 18 s of
/// acceptance/h2-attacks.sh's reset classes, a log an attacker can fill at will. Each attacking connection is still
/// counted by Tether; one line in ten seconds says as much as a thousand. Tether's own entries are not limited.
/// </remarks>
public sealed partial class RepeatLimitingLoggerProvider : ILoggerProvider
{
    /// <summary>Entries of one kind written per window before the rest are only counted.</summary>
    public const int MaxPerWindow = 5;

    private const string LimitedPrefix = "Microsoft.AspNetCore.Server.Kestrel";

    private readonly ILoggerFactory _inner;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string Category, int EventId), Kind> _kinds = new();
    private readonly ITimer _flush;

    public RepeatLimitingLoggerProvider(ILoggerFactory inner, TimeProvider? timeProvider = null)
    {
        _inner = inner;
        _time = timeProvider ?? TimeProvider.System;
        _flush = _time.CreateTimer(static s => ((RepeatLimitingLoggerProvider)s!).Flush(), this, Window, Window);
    }

    /// <summary>The window over which each kind of entry is limited.</summary>
    public static TimeSpan Window { get; } = TimeSpan.FromSeconds(10);

    public ILogger CreateLogger(string categoryName)
    {
        var logger = _inner.CreateLogger(categoryName);
        return categoryName.StartsWith(LimitedPrefix, StringComparison.Ordinal) ? new Limited(this, logger, categoryName) : logger;
    }

    public void Dispose()
    {
        _flush.Dispose();
        Flush();
    }

    /// <summary>Ends the window: says how many entries of each kind were left out in it, and starts counting again.</summary>
    internal void Flush()
    {
        foreach (var (key, kind) in _kinds)
        {
            int suppressed;
            lock (kind)
            {
                suppressed = kind.Suppressed;
                kind.Written = 0;
                kind.Suppressed = 0;
            }

            if (suppressed > 0)
            {
                Log.Suppressed(kind.Logger, suppressed, key.Category, key.EventId, Window.TotalSeconds);
            }
        }
    }

    private sealed class Kind(ILogger logger)
    {
        public ILogger Logger { get; } = logger;

        public int Written;

        public int Suppressed;
    }

    private sealed class Limited(RepeatLimitingLoggerProvider owner, ILogger inner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                var kind = owner._kinds.GetOrAdd((category, eventId.Id), static (_, logger) => new Kind(logger), inner);
                lock (kind)
                {
                    if (kind.Written >= MaxPerWindow)
                    {
                        kind.Suppressed++;
                        return;
                    }

                    kind.Written++;
                }
            }

            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5900, EventName = "RepeatedLogSuppressed", Level = LogLevel.Warning,
            Message = "{Count} more {Category}[{EventId}] entries in the last {Seconds}s were left out (repeated Kestrel warnings and errors are limited to 5 per 10s each)")]
        public static partial void Suppressed(ILogger logger, int count, string category, int eventId, double seconds);
    }
}
