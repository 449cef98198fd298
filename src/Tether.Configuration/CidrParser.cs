using System.Net;
using System.Net.Sockets;

namespace Tether.Configuration;

/// <summary>Parses the network lists of the config ("10.0.0.0/8", "2001:db8::/32", or a single address).</summary>
public static class CidrParser
{
    /// <summary>A CIDR, or a bare address as a network of one. Host bits must be zero ("10.1.0.0/16", not
    /// "10.1.2.3/16"), so a typo cannot silently widen or move the network.</summary>
    public static bool TryParse(string text, out IPNetwork network, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        network = default;
        var trimmed = text.Trim();
        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? trimmed : trimmed[..slash];
        // IPAddress.TryParse also takes inet_aton forms ("10.0.0" = 10.0.0.0, "10" = 0.0.0.10): too easy to misread.
        if (!IPAddress.TryParse(addressText, out var address) || addressText.Contains('%', StringComparison.Ordinal)
            || (address.AddressFamily == AddressFamily.InterNetwork && addressText.Count(c => c == '.') != 3))
        {
            error = $"'{addressText}' is not an IP address; write a network such as \"10.0.0.0/8\" or \"2001:db8::/32\", or one address such as \"192.0.2.10\"";
            return false;
        }

        var maxPrefix = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = maxPrefix;
        if (slash >= 0 && (!int.TryParse(trimmed.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > maxPrefix))
        {
            error = $"the prefix length after '/' must be a number from 0 to {maxPrefix}";
            return false;
        }

        var masked = Mask(address, prefix);
        if (!masked.Equals(address))
        {
            error = $"'{trimmed}' has bits set after the first {prefix}; write \"{masked}/{prefix}\"";
            return false;
        }

        network = new IPNetwork(address, prefix);
        error = "";
        return true;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
