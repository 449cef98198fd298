namespace Tether.Gateway.Reload;

/// <summary>
/// Calls back once a config file has stopped changing for a quiet period. Watches the folder, not the file:
/// editors and config management replace a file by renaming a new one over it, which a watch on the file
/// itself would lose.
/// </summary>
internal sealed class ConfigFileWatcher : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly ITimer _debounce;
    private readonly TimeSpan _quiet;

    public ConfigFileWatcher(string path, TimeSpan quiet, TimeProvider timeProvider, Action changed)
    {
        var full = Path.GetFullPath(path);
        _quiet = quiet;
        _debounce = timeProvider.CreateTimer(static s => ((Action)s!)(), changed, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += OnChanged;
        _watcher.Created += OnChanged;
        _watcher.Renamed += OnChanged;
        _watcher.EnableRaisingEvents = true;
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _debounce.Dispose();
    }

    // Every event pushes the callback back by the quiet period: one reload per burst of writes.
    private void OnChanged(object sender, FileSystemEventArgs e) => _debounce.Change(_quiet, Timeout.InfiniteTimeSpan);
}
