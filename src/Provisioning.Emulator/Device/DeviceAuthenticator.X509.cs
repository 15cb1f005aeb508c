using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Device;

/// <summary>X.509 attestation: the TLS client certificate against individual enrollments and group signing certificates.</summary>
/// <remarks>
/// dps-protocol.md §4 and §11.6: the registration id is the CN (or first DNS SAN); groups validate the chain from the leaf
/// to an enrolled signing certificate, with the intermediates the device sent in the TLS handshake as building blocks.
/// </remarks>
internal sealed partial class DeviceAuthenticator
{
    private AuthOutcome AuthenticateX509Individual(IndividualEnrollment enrollment, string registrationId, X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "An X.509 enrollment needs a TLS client certificate.");
        }

        if (!NameMatches(certificate, registrationId))
        {
            return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The certificate's common name does not match the registration id.");
        }

        var now = options.TimeProvider.GetUtcNow();
        var enrolled = enrollment.Attestation!.X509?.ClientCertificates;
        foreach (var candidate in new[] { enrolled?.Primary?.Certificate, enrolled?.Secondary?.Certificate })
        {
            if (candidate is not null && CertificateText.TryLoad(candidate) is { } cert)
            {
                using (cert)
                {
                    if (cert.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                    {
                        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime || certificate.NotAfter.ToUniversalTime() < now.UtcDateTime)
                        {
                            return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The client certificate is not valid at this time.");
                        }

                        return new AuthOutcome(
                            new DeviceIdentity { RegistrationId = registrationId, AttestationType = "x509", Enrollment = enrollment, ClientCertificate = certificate },
                            null, 0, null);
                    }
                }
            }
        }

        return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The client certificate is not the enrolled certificate.");
    }

    private AuthOutcome AuthenticateX509Group(string registrationId, X509Certificate2 certificate, IReadOnlyList<byte[]> presented)
    {
        if (!NameMatches(certificate, registrationId))
        {
            return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The certificate's common name does not match the registration id.");
        }

        var signers = new List<(EnrollmentGroup Group, X509Certificate2 Certificate)>();
        var intermediates = new X509Certificate2Collection();
        try
        {
            // The TLS layer has parsed these already; they only ever fill gaps in the chain, never anchor it.
            foreach (var raw in presented)
            {
                intermediates.Add(X509CertificateLoader.LoadCertificate(raw));
            }

            foreach (var group in store.Groups.Values)
            {
                var signing = group.Attestation?.Type == "x509" ? group.Attestation.X509?.SigningCertificates : null;
                foreach (var text in new[] { signing?.Primary?.Certificate, signing?.Secondary?.Certificate })
                {
                    if (text is not null && CertificateText.TryLoad(text) is { } cert)
                    {
                        signers.Add((group, cert));
                    }
                }
            }

            foreach (var (group, signer) in signers)
            {
                if (ChainsTo(certificate, signer, signers, intermediates))
                {
                    return new AuthOutcome(
                        new DeviceIdentity
                        {
                            RegistrationId = registrationId,
                            AttestationType = "x509",
                            Group = group,
                            ClientCertificate = certificate,
                            SigningCertificate = X509CertificateLoader.LoadCertificate(signer.RawData),
                        }, null, 0, null);
                }
            }
        }
        finally
        {
            foreach (var (_, cert) in signers)
            {
                cert.Dispose();
            }

            foreach (var cert in intermediates)
            {
                cert.Dispose();
            }
        }

        return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The client certificate does not chain to any enrolled signing certificate.");
    }

    /// <summary>
    /// Whether the chain from <paramref name="leaf"/> reaches <paramref name="signer"/>, the only trust anchor; the other
    /// enrolled signers and the device's <paramref name="presented"/> intermediates may fill the links between.
    /// </summary>
    private bool ChainsTo(X509Certificate2 leaf, X509Certificate2 signer, List<(EnrollmentGroup, X509Certificate2 Certificate)> all,
        X509Certificate2Collection presented)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = options.TimeProvider.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.CustomTrustStore.Add(signer);
        foreach (var (_, cert) in all)
        {
            chain.ChainPolicy.ExtraStore.Add(cert);
        }

        chain.ChainPolicy.ExtraStore.AddRange(presented);

        if (chain.Build(leaf))
        {
            return ChainContains(chain, signer, skip: 0);
        }

        // An intermediate enrolled as the signer is a trust anchor of its own: accept a chain that reaches it and whose
        // only complaint is the missing root above it.
        const X509ChainStatusFlags Tolerated = X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.UntrustedRoot;
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (acc, s) => acc | s.Status);
        return (flags & ~Tolerated) == 0 && ChainContains(chain, signer, skip: 1);
    }

    /// <summary>
    /// Whether <paramref name="signer"/> is one of the chain's elements after the first <paramref name="skip"/>. Each
    /// <see cref="X509Chain.ChainElements"/> read creates certificates the caller owns (disposing the chain does not free
    /// them), so every one is disposed here.
    /// </summary>
    private static bool ChainContains(X509Chain chain, X509Certificate2 signer, int skip)
    {
        var found = false;
        var index = 0;
        foreach (var element in chain.ChainElements)
        {
            using var cert = element.Certificate;
            found |= index++ >= skip && cert.RawDataMemory.Span.SequenceEqual(signer.RawDataMemory.Span);
        }

        return found;
    }

    private static bool NameMatches(X509Certificate2 certificate, string registrationId) =>
        string.Equals(certificate.GetNameInfo(X509NameType.SimpleName, false), registrationId, StringComparison.OrdinalIgnoreCase)
        || string.Equals(certificate.GetNameInfo(X509NameType.DnsName, false), registrationId, StringComparison.OrdinalIgnoreCase);
}
