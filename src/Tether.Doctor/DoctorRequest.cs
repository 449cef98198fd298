namespace Tether.Doctor;

/// <summary>What `tether doctor` was asked for, after the command line was parsed.</summary>
public sealed record DoctorRequest
{
    /// <summary>The endpoint to probe; null = no endpoint checks.</summary>
    public string? Url { get; init; }

    /// <summary>Audit this host's kernel and process settings.</summary>
    public bool Host { get; init; }

    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(60);

    public bool Json { get; init; }

    public bool Insecure { get; init; }

    /// <summary>Write a sysctl.d snippet here (implies the host audit).</summary>
    public string? WriteSysctl { get; init; }

    /// <summary>Where /proc is read from: "/" on a real host, a fake tree in tests.</summary>
    public string Root { get; init; } = "/";
}
