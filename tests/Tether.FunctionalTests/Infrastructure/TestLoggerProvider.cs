using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>One log line as Tether wrote it.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level} {Category}[{EventId.Id}] {Message}";
}

/// <summary>
/// Collects what Tether logs (its own categories from Debug, everything else from Warning) so a test can assert
/// on a log line; optionally echoes it to the test's output.
/// </summary>
internal sealed class TestLoggerProvider(ITestOutputHelper? output = null) : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>Entries with the given event name (the [LoggerMessage] EventName).</summary>
    public IReadOnlyList<LogEntry> Named(string eventName) => [.. _entries.Where(e => e.EventId.Name == eventName)];

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(LogLevel.Debug);
        builder.AddFilter((category, level) => category?.StartsWith("Tether", StringComparison.Ordinal) == true ? level >= LogLevel.Debug : level >= LogLevel.Warning);
        builder.AddProvider(this);
    });

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(LogEntry entry)
    {
        _entries.Enqueue(entry);
        if (output is not null)
        {
            try
            {
                output.WriteLine(entry.Exception is null ? entry.ToString() : $"{entry}\n{entry.Exception}");
            }
            catch (InvalidOperationException)
            {
                // The test already finished; xunit refuses late output.
            }
        }
    }

    private sealed class Logger(TestLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Add(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}
