using System.Collections.Concurrent;
using System.Security.Cryptography;

using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Support;

/// <summary>
/// A stand-in for the service side of TPM attestation: each blob is random and the fake remembers the key it "wraps",
/// so a test plays the device by looking the key up instead of activating it in a TPM.
/// </summary>
internal sealed class FakeTpmIssuer : ITpmCredentialIssuer
{
    private readonly ConcurrentDictionary<string, byte[]> _keys = new();

    public int Issued => _keys.Count;

    public TpmIssuedCredential Issue(ReadOnlySpan<byte> endorsementKey, ReadOnlySpan<byte> storageRootKey)
    {
        if (endorsementKey.Length < 8 || storageRootKey.Length < 8)
        {
            throw new TpmAttestationRejectedException("The fake wants keys of at least 8 bytes.");
        }

        var blob = RandomNumberGenerator.GetBytes(64);
        var key = RandomNumberGenerator.GetBytes(32);
        _keys[Convert.ToBase64String(blob)] = key;
        return new TpmIssuedCredential(blob, (byte[])key.Clone());
    }

    /// <summary>What the device's TPM would recover from <paramref name="authenticationKey"/>.</summary>
    public byte[] Activate(string authenticationKey) => _keys[authenticationKey];
}
