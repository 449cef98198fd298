using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Hosting;
using Tether.Gateway.Reload;

namespace Tether.Gateway;

/// <summary>Reload: validate, start new listeners, swap the model, retire what changed, drain removed listeners.</summary>
public sealed partial class TetherGateway
{
    // One reload at a time, and none once the drain has taken the listeners.
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly List<Task> _removedListenerStops = [];
    private ConfigFileWatcher? _watcher;
    private volatile ReloadResult? _lastReload;

    // SHA-256 of the config file as last read (at start, or by a reload of any trigger). A change on disk that
    // leaves the bytes as they were (sed -i, then SIGHUP, which already reloaded them) is not a second reload.
    private byte[]? _fileHash;
    private long _unchangedSkips;
    private bool _closed;

    private long _configRevision = -1;

    /// <summary>The last reload's outcome, or null if there was none.</summary>
    public ReloadResult? LastReload => _lastReload;

    /// <summary>The etcd revision of the config running (null when it came from a file), so that a fleet can be
    /// checked for agreement in /status.</summary>
    public long? ConfigRevision => Interlocked.Read(ref _configRevision) is >= 0 and var r ? r : null;

    /// <summary>Marks the config the gateway started with as etcd's <paramref name="revision"/>.</summary>
    public void SetStartRevision(long revision) => Interlocked.Exchange(ref _configRevision, revision);

    /// <summary>
    /// Applies a config document from a config source (etcd) with the same validate-then-swap as a file reload: an
    /// invalid one changes nothing and is kept in <see cref="LastReload"/> with its revision.
    /// </summary>
    public async Task<ReloadResult> ApplyDocumentAsync(string json, string trigger, long revision, CancellationToken cancellationToken = default)
    {
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await ApplyDocumentUnderGateAsync(json, trigger, revision, cancellationToken).ConfigureAwait(false);
            Finish(result, trigger);
            return result;
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private async Task<ReloadResult> ApplyDocumentUnderGateAsync(string json, string trigger, long revision, CancellationToken cancellationToken)
    {
        var result = _closed
            ? Failed(trigger, ["the gateway is draining; reload refused"])
            : await LoadAndApplyAsync(ConfigLoader.Parse(json, _options.Environment), trigger, cancellationToken).ConfigureAwait(false);
        result = result with { Revision = revision };
        if (result.Ok)
        {
            Interlocked.Exchange(ref _configRevision, revision);
        }

        return result;
    }

    // SIGHUP or POST /reload with the config in etcd: the key as it is now. The watch applies revisions under the same
    // gate, so a read here is never older than what the watch applied before it (one endpoint lagging behind another
    // is the exception, and an older revision is then kept out rather than applied over a newer one).
    private async Task<(ReloadResult Result, string Trigger)> ReloadFromReaderAsync(
        Func<CancellationToken, Task<(string Json, long Revision)>> read, string trigger, CancellationToken cancellationToken)
    {
        string json;
        long revision;
        try
        {
            (json, revision) = await read(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or Grpc.Core.RpcException or HttpRequestException)
        {
            return (Failed(trigger, [$"the config source could not be read ({e.Message}); the running config stays"]), trigger);
        }

        trigger = $"{trigger} (etcd revision {revision})";
        if (ConfigRevision is { } running && revision < running)
        {
            return (Failed(trigger, [$"revision {revision} is older than the running revision {running}; kept out"]) with { Revision = revision }, trigger);
        }

        return (await ApplyDocumentUnderGateAsync(json, trigger, revision, cancellationToken).ConfigureAwait(false), trigger);
    }

    /// <summary>Changes on disk not reloaded because the file's bytes were those already loaded.</summary>
    public long UnchangedFileSkips => Interlocked.Read(ref _unchangedSkips);

    /// <summary>
    /// Reads the config file again (SIGHUP, POST /reload, a change on disk). An invalid config changes nothing:
    /// the errors are logged and kept in <see cref="LastReload"/>. A valid one swaps routes, clusters and
    /// policies at once; requests in flight finish on the model they started with.
    /// </summary>
    public async Task<ReloadResult> ReloadAsync(string trigger, CancellationToken cancellationToken = default)
    {
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ReloadResult result;
            if (_closed)
            {
                result = Failed(trigger, ["the gateway is draining; reload refused"]);
            }
            else if (_options.ConfigPath is null && _options.ConfigReader is { } read)
            {
                (result, trigger) = await ReloadFromReaderAsync(read, trigger, cancellationToken).ConfigureAwait(false);
            }
            else if (_options.ConfigPath is not { } path)
            {
                result = Failed(trigger, ["no config file to reload: the gateway was started without --config"]);
            }
            else if (trigger == FileChangedTrigger && HashFile(path) is { } hash && _fileHash is { } last && hash.AsSpan().SequenceEqual(last))
            {
                Interlocked.Increment(ref _unchangedSkips);
                ReloadLog.Unchanged(_log);
                return _lastReload ?? new ReloadResult(_options.TimeProvider.GetUtcNow(), true, [], trigger) { Summary = "unchanged" };
            }
            else
            {
                _fileHash = HashFile(path);
                result = await LoadAndApplyAsync(ConfigLoader.LoadFile(path, _options.Environment), trigger, cancellationToken).ConfigureAwait(false);
            }

            Finish(result, trigger);
            return result;
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private async Task<ReloadResult> LoadAndApplyAsync(ConfigLoadResult loaded, string trigger, CancellationToken cancellationToken)
    {
        if (loaded.Succeeded)
        {
            return await ApplyAsync(loaded.Config!, trigger, cancellationToken).ConfigureAwait(false);
        }

        var errors = new List<string>(loaded.Errors.Count);
        foreach (var error in loaded.Errors)
        {
            errors.Add(error.ToString());
        }

        return Failed(trigger, errors);
    }

    // Logs the outcome and keeps it for /status. Called under the reload gate.
    private void Finish(ReloadResult result, string trigger)
    {
        if (result.Ok)
        {
            ReloadLog.Applied(_log, trigger, result.Summary);
        }
        else
        {
            ReloadLog.Rejected(_log, trigger, result.Errors.Count);
            foreach (var error in result.Errors)
            {
                ReloadLog.RejectedError(_log, error);
            }
        }

        _lastReload = result;
    }

    /// <summary>Applies an already validated config (what <see cref="ReloadAsync"/> does after loading the file).</summary>
    internal async Task<ReloadResult> ApplyAsync(TetherConfig config, string trigger, CancellationToken cancellationToken)
    {
        config = _options.ConfigFilter?.Invoke(config) ?? config;
        var now = _options.TimeProvider.GetUtcNow();

        // 1. Listeners that are new start first: if one cannot bind, nothing has changed yet.
        var plan = ListenerPlan.Create(_listeners, config.Listeners);
        var next = new ListenerServer[config.Listeners.Count];
        var started = new List<ListenerServer>();
        try
        {
            for (var i = 0; i < next.Length; i++)
            {
                if (plan.Kept[i] is { } kept)
                {
                    next[i] = kept;
                    continue;
                }

                var server = CreateListener(config.Listeners[i], config);
                started.Add(server);
                await server.StartAsync(cancellationToken).ConfigureAwait(false);
                next[i] = server;
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            foreach (var server in started)
            {
                await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await server.DisposeAsync().ConfigureAwait(false);
            }

            return new ReloadResult(now, false, [$"listeners: cannot listen ({e.Message}); the previous config stays in force"], trigger);
        }

        // 2. The swap: one volatile write each. A request reads the model once, so it runs wholly on one.
        var previous = _model;
        var model = new GatewayModel(config, _options, previous, Recycler);
        Recycler.Window = config.Recycle.Window;
        _model = model;
        _listeners = next;

        // 3. What Kestrel reads per connection follows the new config on listeners that stayed.
        foreach (var server in next)
        {
            if (!started.Contains(server))
            {
                server.ApplyLimits(config.Downstream);
            }
        }

        // 4. Clusters not carried over drain after a grace; changed destination sets start a recycling.
        var recycleFraction = 0.0;
        var rebuilt = 0;
        foreach (var (name, cluster) in previous.Clusters)
        {
            if (model.Reused.Contains(cluster))
            {
                continue;
            }

            rebuilt++;
            Retired.Add(cluster);
            if (config.Clusters.TryGetValue(name, out var changed))
            {
                recycleFraction = Math.Max(recycleFraction, ClusterConfigs.ChangedFraction(cluster.Config.Destinations, changed.Destinations));
            }
        }

        Recycler.Trigger(recycleFraction, "a reload changed destinations");

        // 5. Removed listeners stop accepting and drain in the background, bounded by drain.timeout.
        foreach (var server in plan.Removed)
        {
            lock (_removedListenerStops)
            {
                _removedListenerStops.Add(DrainRemovedAsync(server, config.Drain.Timeout));
            }
        }

        Telemetry.AccessLog.Reconfigure(config.AccessLog);
        if (config.AccessLog.QueueSize != Telemetry.AccessLog.QueueSize)
        {
            ReloadLog.NeedsRestart(_log, "accessLog.queueSize");
        }

        var (telemetry, wasTelemetry) = (config.Telemetry, previous.Config.Telemetry);
        if (telemetry.Tracing != wasTelemetry.Tracing || telemetry.Otlp.Endpoint != wasTelemetry.Otlp.Endpoint
            || telemetry.Otlp.ExportInterval != wasTelemetry.Otlp.ExportInterval || !telemetry.Otlp.Headers.OrderBy(h => h.Key).SequenceEqual(wasTelemetry.Otlp.Headers.OrderBy(h => h.Key)))
        {
            ReloadLog.NeedsRestart(_log, "telemetry");
        }

        if (!string.Equals(config.Admin.Address ?? "", previous.Config.Admin.Address ?? "", StringComparison.Ordinal))
        {
            ReloadLog.NeedsRestart(_log, "admin.address");
        }

        var (was, current) = (previous.Config.Downstream, config.Downstream);
        if (was.MaxConnections != current.MaxConnections || was.MaxConnectionsPerClient != current.MaxConnectionsPerClient || !was.TrustedProxies.Equals(current.TrustedProxies))
        {
            ReloadLog.NeedsRestart(_log, "downstream.maxConnections, maxConnectionsPerClient or trustedProxies");
        }

        var summary = $"listeners: {started.Count} started, {next.Length - started.Count} kept, {plan.Removed.Count} draining; " +
            $"clusters: {model.Reused.Count} kept, {model.Clusters.Count - model.Reused.Count} built, {rebuilt} retired";
        return new ReloadResult(now, true, [], trigger) { Summary = summary };
    }

    private static async Task DrainRemovedAsync(ListenerServer server, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        await server.StopAsync(deadline.Token).ConfigureAwait(false);
        await server.DisposeAsync().ConfigureAwait(false);
    }

    private Task RemovedListenersStoppedAsync()
    {
        lock (_removedListenerStops)
        {
            return Task.WhenAll(_removedListenerStops);
        }
    }

    private ReloadResult Failed(string trigger, IReadOnlyList<string> errors) =>
        new(_options.TimeProvider.GetUtcNow(), false, errors, trigger);

    private const string FileChangedTrigger = "config file changed";

    private void StartWatchingConfig()
    {
        if (_options.ConfigPath is { } path && _options.WatchConfigFile)
        {
            _fileHash = HashFile(path);
            _watcher = new ConfigFileWatcher(path, _options.ReloadDebounce, _options.TimeProvider, () => _ = ReloadAsync(FileChangedTrigger));
        }
    }

    private static byte[]? HashFile(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            return System.Security.Cryptography.SHA256.HashData(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // unreadable now: the reload says why
        }
    }

    private void StopWatchingConfig() => _watcher?.Dispose();

    private static partial class ReloadLog
    {
        [LoggerMessage(EventId = 4010, EventName = "ReloadApplied", Level = LogLevel.Information,
            Message = "reload ({Trigger}) applied: {Summary}")]
        public static partial void Applied(ILogger logger, string trigger, string summary);

        [LoggerMessage(EventId = 4011, EventName = "ReloadRejected", Level = LogLevel.Error,
            Message = "reload ({Trigger}) rejected with {Count} error(s); the previous config keeps serving")]
        public static partial void Rejected(ILogger logger, string trigger, int count);

        [LoggerMessage(EventId = 4012, EventName = "ReloadError", Level = LogLevel.Error, Message = "  {Error}")]
        public static partial void RejectedError(ILogger logger, string error);

        [LoggerMessage(EventId = 4014, EventName = "ReloadUnchanged", Level = LogLevel.Debug,
            Message = "config file changed on disk but its bytes are those already loaded; not reloaded again")]
        public static partial void Unchanged(ILogger logger);

        [LoggerMessage(EventId = 4013, EventName = "ReloadNeedsRestart", Level = LogLevel.Warning,
            Message = "reload: {Key} changed; it takes effect at the next restart")]
        public static partial void NeedsRestart(ILogger logger, string key);
    }
}
