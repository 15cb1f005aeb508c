using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Device;

/// <summary>X.509 attestation: the TLS client certificate against individual enrollments and group signing certificates.</summary>
/// <remarks>dps-protocol.md §4 and §11.6: the registration id is the CN (or first DNS SAN); groups validate the chain.</remarks>
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

    private AuthOutcome AuthenticateX509Group(string registrationId, X509Certificate2 certificate)
    {
        if (!NameMatches(certificate, registrationId))
        {
            return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The certificate's common name does not match the registration id.");
        }

        var signers = new List<(EnrollmentGroup Group, X509Certificate2 Certificate)>();
        try
        {
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
                if (ChainsTo(certificate, signer, signers))
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
        }

        return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The client certificate does not chain to any enrolled signing certificate.");
    }

    private bool ChainsTo(X509Certificate2 leaf, X509Certificate2 signer, List<(EnrollmentGroup, X509Certificate2 Certificate)> all)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = options.TimeProvider.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.CustomTrustStore.Add(signer);
        foreach (var (_, cert) in all)
        {
            chain.ChainPolicy.ExtraStore.Add(cert);
        }

        if (chain.Build(leaf))
        {
            return chain.ChainElements.Any(e => e.Certificate.RawDataMemory.Span.SequenceEqual(signer.RawDataMemory.Span));
        }

        // An intermediate enrolled as the signer is a trust anchor of its own: accept a chain that reaches it and whose
        // only complaint is the missing root above it.
        const X509ChainStatusFlags Tolerated = X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.UntrustedRoot;
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (acc, s) => acc | s.Status);
        return (flags & ~Tolerated) == 0
            && chain.ChainElements.Skip(1).Any(e => e.Certificate.RawDataMemory.Span.SequenceEqual(signer.RawDataMemory.Span));
    }

    private static bool NameMatches(X509Certificate2 certificate, string registrationId) =>
        string.Equals(certificate.GetNameInfo(X509NameType.SimpleName, false), registrationId, StringComparison.OrdinalIgnoreCase)
        || string.Equals(certificate.GetNameInfo(X509NameType.DnsName, false), registrationId, StringComparison.OrdinalIgnoreCase);
}
