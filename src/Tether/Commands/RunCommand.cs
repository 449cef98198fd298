using System.CommandLine;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway;
using Tether.Gateway.Demo;
using Tether.Gateway.Reload;

namespace Tether.Commands;

/// <summary>`tether run [--config FILE]`: run the gateway; without a config, the embedded demo.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c")
        {
            Description = "The config file (JSON, or YAML: .yaml, .yml), or etcd://host:2379[,host2:2379]/prefix (etcds:// for TLS) to read <prefix>/config from etcd and follow it. "
                + "Without it: the embedded default (127.0.0.1:8080 → two demo origins; admin on 127.0.0.1:9901).",
        };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Minimum log level.", DefaultValueFactory = _ => LogLevel.Information };
        var etcdUser = new Option<string?>("--etcd-user") { Description = "etcd auth user; the password is read from the environment variable TETHER_ETCD_PASSWORD." };
        var etcdCa = new Option<FileInfo?>("--etcd-ca-file") { Description = "PEM bundle of the CAs that sign etcd's certificates (etcds://)." };
        var etcdCert = new Option<FileInfo?>("--etcd-cert-file") { Description = "PEM client certificate presented to etcd (etcds://, etcd --client-cert-auth); with --etcd-key-file." };
        var etcdKey = new Option<FileInfo?>("--etcd-key-file") { Description = "PEM private key of --etcd-cert-file." };
        var command = new Command("run", "Run the gateway.") { config, logLevel, etcdUser, etcdCa, etcdCert, etcdKey };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var source = parseResult.GetValue(config);
            if (source is not null && EtcdLocation.IsEtcd(source))
            {
                if (!EtcdLocation.TryParse(source, out var location, out var error))
                {
                    Console.Error.WriteLine($"--config {source}: {error}");
                    return Task.FromResult(1);
                }

                location = location! with
                {
                    User = parseResult.GetValue(etcdUser),
                    Password = Environment.GetEnvironmentVariable("TETHER_ETCD_PASSWORD"),
                    CaFile = parseResult.GetValue(etcdCa)?.FullName,
                    CertificateFile = parseResult.GetValue(etcdCert)?.FullName,
                    KeyFile = parseResult.GetValue(etcdKey)?.FullName,
                };
                if (location.Problems() is { Count: > 0 } problems)
                {
                    foreach (var problem in problems)
                    {
                        Console.Error.WriteLine($"--config {source}: {problem}");
                    }

                    return Task.FromResult(1);
                }

                return RunAsync(null, location, parseResult.GetValue(logLevel), cancellationToken);
            }

            return RunAsync(source is null ? null : new FileInfo(source), null, parseResult.GetValue(logLevel), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(FileInfo? configFile, EtcdLocation? etcd, LogLevel minimumLevel, CancellationToken cancellationToken)
    {
        // The console writer, fed by a factory that decides what is logged: Kestrel's repeated warnings and errors
        // (hundreds a second under an HTTP/2 reset flood) are limited there (RepeatLimitingLoggerProvider).
        using var console = LoggerFactory.Create(b => ConsoleFormat(b.SetMinimumLevel(LogLevel.Trace)));
        using var loggerFactory = LoggerFactory.Create(b => b
            .SetMinimumLevel(minimumLevel)
            .AddFilter("Microsoft", LogLevel.Warning)
            // ASP.NET's hosting diagnostics start an Activity and a log scope for every request whenever this
            // category is enabled at any level; a proxy pays that on its hottest path (a third of all
            // allocations in a profile). Tether logs what matters about requests itself.
            .AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None)
            .AddProvider(new Tether.Gateway.Observability.RepeatLimitingLoggerProvider(console)));
        var log = loggerFactory.CreateLogger("Tether");

        DemoOrigins? demo = null;
        TetherConfig config;
        EtcdConfigSource? source = null;
        long revision = 0;
        if (etcd is not null)
        {
            source = new EtcdConfigSource(etcd, log);
            string json;
            try
            {
                (json, revision) = await source.ReadAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or Grpc.Core.RpcException)
            {
                Console.Error.WriteLine($"{etcd.ConfigKey}: {ex.Message}; not starting");
                await source.DisposeAsync();
                return 1;
            }

            var result = ConfigLoader.Parse(json, EnvironmentVariables.Read());
            if (!result.Succeeded)
            {
                Console.Error.WriteLine($"{etcd.ConfigKey} (revision {revision}): {result.Errors.Count} error(s); not starting");
                foreach (var error in result.Errors)
                {
                    Console.Error.WriteLine($"  {error}");
                }

                await source.DisposeAsync();
                return 1;
            }

            config = result.Config!;
        }
        else if (configFile is null)
        {
            demo = await DemoOrigins.StartAsync(2, cancellationToken);
            config = demo.CreateDefaultConfig();
        }
        else
        {
            if (ConfigErrors.Load(configFile, "; not starting") is not { } loaded)
            {
                return 1;
            }

            config = loaded;
        }

        TetherGateway gateway;
        try
        {
            var options = new GatewayOptions
            {
                LoggerFactory = loggerFactory,
                ConfigPath = configFile?.FullName,
                ConfigReader = source is null ? null : source.ReadAsync,
                Environment = EnvironmentVariables.Read(),
            };
            gateway = await TetherGateway.StartAsync(config, options, cancellationToken);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"tether: cannot listen: {ex.Message}");
            if (source is not null)
            {
                await source.DisposeAsync();
            }

            return 1;
        }

        await using (gateway)
        {
            if (source is not null)
            {
                gateway.SetStartRevision(revision);
                source.Start(gateway, revision);
                log.LogInformation("config from etcd {Key} at revision {Revision}; watching it", etcd!.ConfigKey, revision);
            }

            foreach (var url in gateway.ListenerUrls)
            {
                log.LogInformation("listening on {Url}", url);
            }

            if (gateway.AdminUrl is { } admin)
            {
                log.LogInformation("admin on {Url} (GET /status, /metrics, /healthz)", admin);
            }

            if (demo is not null)
            {
                log.LogInformation("embedded default config: proxying to demo origins {Origins}; try: curl {Url}", string.Join(", ", demo.Addresses), gateway.ListenerUrls[0]);
            }

            // SIGTERM/SIGINT: drain (a second one aborts what is left); SIGHUP: reload. POST /drain ends the
            // same way. Cancel = true keeps the runtime from ending the process on the spot.
            using var signals = new ProcessSignals(gateway, log);
            using var cancelled = cancellationToken.Register(() => signals.Stop("cancelled"));
            var service = ServiceManager.Create();
            _ = gateway.DrainBegun.ContinueWith(_ => service.Stopping(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            service.Ready();
            var summary = await gateway.Drained;
            if (source is not null)
            {
                await source.DisposeAsync();
            }

            log.LogInformation("stopped after draining {Connections} connection(s) in {Seconds:0.000}s", summary.ConnectionsDrained, summary.Elapsed.TotalSeconds);
        }

        if (demo is not null)
        {
            await demo.DisposeAsync();
        }

        return 0;
    }

    private static ILoggingBuilder ConsoleFormat(ILoggingBuilder builder) => ServiceManager.LogsToJournal
        ? builder.AddSystemdConsole(o => o.UseUtcTimestamp = true)
        : builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
}
