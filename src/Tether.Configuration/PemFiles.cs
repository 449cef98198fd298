using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tether.Configuration;

/// <summary>
/// What `tether check` can tell about a TLS file before the gateway needs it: that it exists, can be read,
/// and holds what its key says (certificates, or the private key of a certificate). Each method returns
/// null when the file is fine, else a sentence that names the file and what is wrong with it.
/// </summary>
internal static class PemFiles
{
    // The private-key labels X509Certificate2.CreateFromPemFile reads (PKCS#8, PKCS#1 RSA, SEC1 EC).
    private static readonly string[] _keyLabels = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

    private const string EncryptedKeyLabel = "ENCRYPTED PRIVATE KEY";

    /// <summary>Null if <paramref name="file"/> is a file this process can open for reading.</summary>
    public static string? Unreadable(string file, string what)
    {
        var fullPath = Path.GetFullPath(file);
        if (Directory.Exists(fullPath))
        {
            return $"{fullPath} is a folder; give the path of the PEM {what} file in it";
        }

        if (!File.Exists(fullPath))
        {
            return $"the {what} file {fullPath} does not exist; check the path (relative paths start at the config file's folder)";
        }

        try
        {
            using var stream = File.OpenRead(fullPath);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CannotRead(what, fullPath, e);
        }
    }

    /// <summary>Null if <paramref name="file"/> holds at least one PEM certificate and every one parses.</summary>
    public static string? NoCertificate(string file, string what, string purpose)
    {
        var fullPath = Path.GetFullPath(file);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(fullPath);
        }
        catch (CryptographicException e)
        {
            return $"the {what} file {fullPath} holds a PEM certificate that cannot be read ({e.Message.TrimEnd('.')}); give {purpose}";
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }

        return certificates.Count == 0
            ? $"the {what} file {fullPath} holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" block); give {purpose}"
            : null;
    }

    /// <summary>Null if <paramref name="keyFile"/> holds an unencrypted PEM private key that belongs to the
    /// certificate in <paramref name="certificateFile"/> (which <see cref="NoCertificate"/> has passed).</summary>
    public static string? KeyDoesNotFit(string certificateFile, string keyFile)
    {
        var keyPath = Path.GetFullPath(keyFile);
        List<string> labels;
        try
        {
            labels = Labels(File.ReadAllText(keyPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CannotRead("key", keyPath, e);
        }

        if (!labels.Exists(label => Array.IndexOf(_keyLabels, label) >= 0))
        {
            return labels.Contains(EncryptedKeyLabel)
                ? $"the private key in {keyPath} is encrypted, and Tether reads unencrypted keys only; decrypt it (openssl pkey -in key.pem -out plain.pem) and let only Tether's user read the result"
                : $"the key file {keyPath} holds no PEM private key (no \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block); give the private key of the client certificate";
        }

        var certificatePath = Path.GetFullPath(certificateFile);
        try
        {
            using var pair = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            return null;
        }
        catch (ArgumentException)
        {
            // CopyWithPrivateKey's answer to a key whose public half is not the certificate's.
            return $"the private key in {keyPath} is not the key of the certificate in {certificatePath}; give the key the certificate was issued for";
        }
        catch (CryptographicException e)
        {
            return $"the private key in {keyPath} cannot be used with the certificate in {certificatePath} ({e.Message.TrimEnd('.')}); give the key the certificate was issued for";
        }
    }

    private static string CannotRead(string what, string fullPath, Exception e) =>
        $"cannot read the {what} file {fullPath} ({e.Message.TrimEnd('.')}); check its permissions: Tether must be able to read it";

    // The labels of the PEM blocks in text, in order ("CERTIFICATE", "PRIVATE KEY", …).
    private static List<string> Labels(string text)
    {
        var labels = new List<string>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            labels.Add(rest[fields.Label].ToString());
            rest = rest[fields.Location.End..];
        }

        return labels;
    }
}
