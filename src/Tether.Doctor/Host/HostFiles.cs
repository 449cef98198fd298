namespace Tether.Doctor.Host;

/// <summary>
/// Reads the kernel's files under a root directory: "/" on a real host, a temp dir holding a fake
/// proc tree in tests. Read-only by construction; the doctor never changes the host.
/// </summary>
public sealed class HostFiles(string root)
{
    public string Root { get; } = root;

    /// <summary>"net.ipv4.tcp_fin_timeout" → the trimmed content of proc/sys/net/ipv4/tcp_fin_timeout, or null if absent.</summary>
    public string? Sysctl(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Read(Path.Combine(["proc", "sys", .. name.Split('.')]))?.Trim();
    }

    public long? SysctlNumber(string name) =>
        long.TryParse(Sysctl(name), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : null;

    /// <summary>A file under the root, or null when it does not exist or cannot be read.</summary>
    public string? Read(string relativePath)
    {
        var path = Path.Combine(Root, relativePath);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
