using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tether.Server;

/// <summary>Kestrel's keep-alive timeout from the plan.</summary>
internal sealed class KestrelKeepAliveSetup(KeepAlivePlan plan) : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions options) => options.Limits.KeepAliveTimeout = plan.KeepAliveTimeout;
}

/// <summary>The shutdown timeout: the drain delay plus the time in-flight requests get.</summary>
internal sealed class ShutdownTimeoutSetup(IOptions<TetherKeepAliveOptions> options) : IConfigureOptions<HostOptions>
{
    public void Configure(HostOptions host) => host.ShutdownTimeout = options.Value.DrainDelay + options.Value.DrainTimeout;
}

/// <summary>Refuses invalid options at start, every error named.</summary>
internal sealed class KeepAliveOptionsValidation : IValidateOptions<TetherKeepAliveOptions>
{
    public ValidateOptionsResult Validate(string? name, TetherKeepAliveOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => "TetherKeepAlive." + e));
    }
}

/// <summary>Puts <see cref="KeepAliveMiddleware"/> first in the pipeline, before anything can start a response.</summary>
internal sealed class KeepAliveStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<KeepAliveMiddleware>();
        next(app);
    };
}

/// <summary>
/// The drain on SIGTERM: ApplicationStopping has fired (every response from now on says Connection: close), and Kestrel
/// stops only after <see cref="TetherKeepAliveOptions.DrainDelay"/>, so a proxy in front that still sends here gets
/// answers that move its connections away, not refused connects. Kestrel then closes idle connections and waits for
/// in-flight requests, up to the shutdown timeout.
/// </summary>
/// <remarks>
/// On SIGTERM the host's lifetime fires ApplicationStopping before the host stops; a host stopped by a call to
/// <c>StopAsync</c> fires it only after every service's StoppingAsync, that is after this delay, and Kestrel stops
/// straight after it: the drain would answer nothing with close, and a request sent then would race Kestrel's
/// shutdown. So the drain fires ApplicationStopping itself when it starts (a no-op when SIGTERM already did).
/// </remarks>
internal sealed partial class KeepAliveDrain(
    IOptions<TetherKeepAliveOptions> options, KeepAlivePlan plan, IHostApplicationLifetime lifetime, ILogger<KeepAliveDrain> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.Started(logger, plan.KeepAliveTimeout.TotalSeconds, options.Value.MaxRequestsPerConnection, options.Value.DrainDelay.TotalSeconds);
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var delay = options.Value.DrainDelay;
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        lifetime.StopApplication();
        Log.Draining(logger, delay.TotalSeconds);
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The shutdown timeout ran out first.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 8003, EventName = "KeepAliveRules", Level = LogLevel.Information,
            Message = "Tether.Server: keep-alive timeout {Seconds} s, max requests per connection {MaxRequests} (0 = unlimited), drain delay {DrainSeconds} s")]
        public static partial void Started(ILogger logger, double seconds, int maxRequests, double drainSeconds);

        [LoggerMessage(EventId = 8004, EventName = "Draining", Level = LogLevel.Information,
            Message = "stopping: answering with Connection: close for {Seconds} s before Kestrel stops")]
        public static partial void Draining(ILogger logger, double seconds);
    }
}
