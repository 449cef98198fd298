namespace Tether.Testing;

/// <summary>
/// Which process listens on a loopback TCP port. A test that starts a server in another process (nginx) on a port it
/// picked can only see it listening by connecting, and a connect also succeeds when another test's server took the
/// port between the pick and the bind. This tells the two apart (Linux: /proc).
/// </summary>
internal static class ListenerOwner
{
    /// <summary>Whether process <paramref name="pid"/> holds the socket listening on 127.0.0.1:<paramref name="port"/>
    /// (the listener's inode in /proc/net/tcp among the process's open files).</summary>
    public static bool Owns(int pid, int port)
    {
        var local = $"0100007F:{port:X4}";
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 9 && fields[1] == local && fields[3] == "0A")
            {
                inodes.Add($"socket:[{fields[9]}]");
            }
        }

        try
        {
            return Directory.EnumerateFiles($"/proc/{pid}/fd").Any(fd => new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target));
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return false; // the process is gone
        }
    }
}
