using System.Globalization;

namespace Tether.Doctor.Host;

/// <summary>Sockets per TCP state, counted from /proc/net/tcp and /proc/net/tcp6 (the "st" column, hex).</summary>
public sealed record TcpStateCounts(int Established, int TimeWait, int CloseWait, int Total)
{
    private const int EstablishedState = 0x01;
    private const int TimeWaitState = 0x06;
    private const int CloseWaitState = 0x08;

    /// <summary>Null when neither file exists (not Linux, or /proc not mounted).</summary>
    public static TcpStateCounts? Read(HostFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var v4 = files.Read("proc/net/tcp");
        var v6 = files.Read("proc/net/tcp6");
        if (v4 is null && v6 is null)
        {
            return null;
        }

        int established = 0, timeWait = 0, closeWait = 0, total = 0;
        foreach (var table in new[] { v4, v6 })
        {
            foreach (var line in (table ?? "").Split('\n').Skip(1))
            {
                // "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 ..." — the fourth field is the state.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4 || !int.TryParse(fields[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var state))
                {
                    continue;
                }

                total++;
                switch (state)
                {
                    case EstablishedState:
                        established++;
                        break;
                    case TimeWaitState:
                        timeWait++;
                        break;
                    case CloseWaitState:
                        closeWait++;
                        break;
                }
            }
        }

        return new TcpStateCounts(established, timeWait, closeWait, total);
    }
}
