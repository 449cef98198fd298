using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tether.Server;

namespace Microsoft.AspNetCore.Hosting;

/// <summary><c>builder.WebHost.UseTetherKeepAlive(o => …)</c>: Tether's keep-alive rules for a Kestrel backend.</summary>
public static class TetherKeepAliveWebHostBuilderExtensions
{
    /// <summary>
    /// Sets Kestrel's keep-alive timeout above the front proxy's, advertises it in <c>Keep-Alive: timeout=N</c>, closes each
    /// HTTP/1.1 connection after <see cref="TetherKeepAliveOptions.MaxRequestsPerConnection"/> requests (that response says
    /// <c>Connection: close</c>), and drains on SIGTERM (see <see cref="TetherKeepAliveOptions.DrainDelay"/>). Invalid
    /// options stop the application at start with every error named.
    /// </summary>
    public static IWebHostBuilder UseTetherKeepAlive(this IWebHostBuilder builder, Action<TetherKeepAliveOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services =>
        {
            var options = services.AddOptions<TetherKeepAliveOptions>();
            if (configure is not null)
            {
                options.Configure(configure);
            }

            options.ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TetherKeepAliveOptions>, KeepAliveOptionsValidation>());
            services.TryAddSingleton<KeepAlivePlan>();
            services.TryAddEnumerable(ServiceDescriptor.Transient<IConfigureOptions<KestrelServerOptions>, KestrelKeepAliveSetup>());
            services.TryAddEnumerable(ServiceDescriptor.Transient<IConfigureOptions<HostOptions>, ShutdownTimeoutSetup>());
            services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, KeepAliveStartupFilter>());
            services.AddHostedService<KeepAliveDrain>();
        });
    }
}
