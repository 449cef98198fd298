using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tether.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Makes a <see cref="TetherHttpHandler"/> the primary handler of a client built by IHttpClientFactory.</summary>
public static class TetherHttpClientBuilderExtensions
{
    /// <summary>
    /// Sends this client's requests through a <see cref="TetherHttpHandler"/> configured by <paramref name="configure"/>.
    /// The handler is kept for the client's life (handler lifetime infinite): it re-resolves DNS and ages connections out
    /// itself, and rotating it would throw its pool away.
    /// </summary>
    public static IHttpClientBuilder UseTether(this IHttpClientBuilder builder, Action<TetherClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ConfigurePrimaryHttpMessageHandler(services =>
        {
            var options = new TetherClientOptions { LoggerFactory = services.GetService<ILoggerFactory>() };
            configure?.Invoke(options);
            return new TetherHttpHandler(options);
        });
        builder.SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        return builder;
    }
}
