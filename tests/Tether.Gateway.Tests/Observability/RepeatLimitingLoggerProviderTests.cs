using Microsoft.Extensions.Logging;
using Tether.Gateway.Observability;
using Tether.Testing;

namespace Tether.Gateway.Tests.Observability;

/// <summary>Kestrel's repeated warnings and errors are limited per kind and window and summed up; nothing else is.</summary>
public class RepeatLimitingLoggerProviderTests
{
    private const string KestrelHttp2 = "Microsoft.AspNetCore.Server.Kestrel.Http2";

    private sealed class Recorder : ILoggerProvider
    {
        public List<(string Category, LogLevel Level, int EventId, string Message)> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(Recorder owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Entries)
                {
                    owner.Entries.Add((category, logLevel, eventId.Id, formatter(state, exception)));
                }
            }
        }
    }

    private static (RepeatLimitingLoggerProvider Provider, Recorder Recorder, ManualTimeProvider Time) Create()
    {
        var recorder = new Recorder();
        var inner = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(recorder));
        var time = new ManualTimeProvider();
        return (new RepeatLimitingLoggerProvider(inner, time), recorder, time);
    }

    [Fact]
    public void A_flood_of_one_Kestrel_error_is_cut_to_five_a_window_and_the_rest_counted_in_one_line()
    {
        var (provider, recorder, time) = Create();
        var kestrel = provider.CreateLogger(KestrelHttp2);
        for (var i = 0; i < 300; i++)
        {
            kestrel.Log(LogLevel.Critical, new EventId(60), "queue full", null, static (s, _) => s);
        }

        Assert.Equal(5, recorder.Entries.Count);
        time.Advance(RepeatLimitingLoggerProvider.Window);
        var summary = Assert.Single(recorder.Entries.Skip(5));
        Assert.Equal(LogLevel.Warning, summary.Level);
        Assert.Contains("295 more Microsoft.AspNetCore.Server.Kestrel.Http2[60] entries", summary.Message, StringComparison.Ordinal);

        // A new window writes again, and a quiet window says nothing.
        kestrel.Log(LogLevel.Critical, new EventId(60), "queue full", null, static (s, _) => s);
        Assert.Equal(7, recorder.Entries.Count);
        time.Advance(RepeatLimitingLoggerProvider.Window);
        Assert.Equal(7, recorder.Entries.Count);
    }

    [Fact]
    public void Other_kinds_Kestrel_debug_lines_and_Tether_lines_are_not_limited()
    {
        var (provider, recorder, _) = Create();
        var kestrel = provider.CreateLogger(KestrelHttp2);
        var tether = provider.CreateLogger("Tether.Gateway.Protection");
        for (var i = 0; i < 20; i++)
        {
            kestrel.Log(LogLevel.Critical, new EventId(60), "queue full", null, static (s, _) => s);
            kestrel.Log(LogLevel.Error, new EventId(61), "other", null, static (s, _) => s);
            kestrel.Log(LogLevel.Debug, new EventId(60), "debug", null, static (s, _) => s);
            tether.Log(LogLevel.Error, new EventId(60), "ours", null, static (s, _) => s);
        }

        Assert.Equal(5, recorder.Entries.Count(e => e.EventId == 60 && e.Level == LogLevel.Critical));
        Assert.Equal(5, recorder.Entries.Count(e => e.EventId == 61));
        Assert.Equal(20, recorder.Entries.Count(e => e.Level == LogLevel.Debug));
        Assert.Equal(20, recorder.Entries.Count(e => e.Category == "Tether.Gateway.Protection"));
    }
}
