using System.Globalization;

namespace Tether.Doctor.Reporting;

/// <summary>How the report writes durations: milliseconds below a second, seconds with two decimals above.</summary>
public static class Units
{
    public static string Duration(TimeSpan value) =>
        value < TimeSpan.FromSeconds(1)
            ? value.TotalMilliseconds.ToString(value.TotalMilliseconds < 1 ? "0.000" : value.TotalMilliseconds < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms"
            : value.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    public static string Seconds(TimeSpan value) =>
        value.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture) + " s";

    public static string Number(double value) => value.ToString("#,0", CultureInfo.InvariantCulture);
}
