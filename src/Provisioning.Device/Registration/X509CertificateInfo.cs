namespace Provisioning.Device;

/// <summary>A certificate as DPS describes it in <c>registrationState.x509</c> (dps-protocol.md §1.6).</summary>
public sealed class X509CertificateInfo
{
    /// <summary>The subject distinguished name.</summary>
    public string? SubjectName { get; init; }

    /// <summary>The SHA-1 thumbprint.</summary>
    public string? Sha1Thumbprint { get; init; }

    /// <summary>The SHA-256 thumbprint.</summary>
    public string? Sha256Thumbprint { get; init; }

    /// <summary>The issuer distinguished name.</summary>
    public string? IssuerName { get; init; }

    /// <summary>The start of validity.</summary>
    public DateTimeOffset? NotBeforeUtc { get; init; }

    /// <summary>The end of validity.</summary>
    public DateTimeOffset? NotAfterUtc { get; init; }

    /// <summary>The serial number.</summary>
    public string? SerialNumber { get; init; }

    /// <summary>The X.509 version.</summary>
    public int? Version { get; init; }
}
