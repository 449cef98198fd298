using System.Diagnostics;
using System.Net;

namespace Tether.FunctionalTests.Draining;

/// <summary>
/// Steady load: N keep-alive connections, each sending GETs back to back, recording when each request
/// started and how it ended, so a test can judge the requests started before some moment.
/// </summary>
internal sealed class LoadLoop : IAsyncDisposable
{
    private readonly HttpClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Outcome> _outcomes = [];
    private readonly Task[] _loops;

    public LoadLoop(Uri target, int connections, string path = "/")
    {
        // The handler's own retry on a pooled connection the server closed is left on, as in real clients;
        // a retry that then finds no listener fails and is counted.
        _client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = target,
            Timeout = TimeSpan.FromSeconds(30),
        };
        _loops = new Task[connections];
        for (var i = 0; i < connections; i++)
        {
            _loops[i] = Task.Run(() => RunAsync(path));
        }
    }

    public record struct Outcome(long StartedAt, int Status, string? Body, string? Error);

    public int Count
    {
        get
        {
            lock (_outcomes)
            {
                return _outcomes.Count;
            }
        }
    }

    public IReadOnlyList<Outcome> Outcomes
    {
        get
        {
            lock (_outcomes)
            {
                return [.. _outcomes];
            }
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _client.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(string path)
    {
        while (!_stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            Outcome outcome;
            try
            {
                using var response = await _client.GetAsync(path, _stop.Token);
                var body = await response.Content.ReadAsStringAsync(_stop.Token);
                outcome = new Outcome(started, (int)response.StatusCode, body, null);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException e)
            {
                outcome = new Outcome(started, 0, null, e.Message);

                // After a failure (a stopped gateway), do not spin.
                await Task.Delay(10, CancellationToken.None);
            }

            lock (_outcomes)
            {
                _outcomes.Add(outcome);
            }
        }
    }

    /// <summary>The failed outcomes (no response or not 200) of requests started before <paramref name="timestamp"/>.</summary>
    public List<Outcome> FailedBefore(long timestamp)
    {
        var failed = new List<Outcome>();
        foreach (var o in Outcomes)
        {
            if (o.StartedAt < timestamp && o.Status != (int)HttpStatusCode.OK)
            {
                failed.Add(o);
            }
        }

        return failed;
    }
}
