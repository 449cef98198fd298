using System.Text;

namespace Tether.Doctor.Host;

/// <summary>A ready /etc/sysctl.d file: the settings to change, and the ones already fine commented out.</summary>
public static class SysctlSnippet
{
    public static string Format(IReadOnlyList<SysctlLine> lines, DateTimeOffset generated)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var text = new StringBuilder()
            .AppendLine("# Written by `tether doctor --host --write-sysctl`.")
            .AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"# Generated {generated:yyyy-MM-dd HH:mm:ss zzz}. Review, copy to /etc/sysctl.d/60-tether.conf,")
            .AppendLine("# then apply with `sysctl --system`. Nothing was changed on this host.")
            .AppendLine();
        foreach (var line in lines)
        {
            text.Append("# ").AppendLine(line.Reason);
            text.Append(line.Needed ? "" : "# already fine: ").Append(line.Name).Append(" = ").AppendLine(line.Value).AppendLine();
        }

        return text.ToString();
    }
}
