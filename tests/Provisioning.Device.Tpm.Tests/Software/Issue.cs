using Provisioning.Emulator.Tpm;

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>The service side (the emulator's credential issuer) making a blob for identities' keys.</summary>
internal static class Issue
{
    /// <summary>A blob for <paramref name="ekOf"/>'s EK and <paramref name="srkOf"/>'s SRK (the same identity unless testing a mismatch).</summary>
    public static async Task<TpmIssuedCredential> ForAsync(TpmIdentity ekOf, TpmIdentity? srkOf = null, CancellationToken cancellationToken = default)
    {
        var ek = await ekOf.GetEndorsementKeyAsync(cancellationToken);
        var srk = await (srkOf ?? ekOf).GetStorageRootKeyAsync(cancellationToken);
        return new TpmCredentialIssuer().Issue(ek, srk);
    }
}
