using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>
/// Makes the DPS <c>authenticationKey</c> blob: a fresh HMAC-SHA-256 identity key that only the device's TPM
/// (the holder of the EK, with that SRK) can import.
/// </summary>
/// <remarks>
/// dps-protocol.md §2.3. The blob is six big-endian size-prefixed parts: TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET
/// from MakeCredential to the EK (the credential is the 16-byte inner wrap key, bound to Name(SRK)); TPM2B_PRIVATE and
/// TPM2B_ENCRYPTED_SECRET from duplicating the identity key to the SRK with that inner wrapper; the identity key's
/// TPM2B_PUBLIC; an empty trailing field. The device runs ActivateCredential, Import and Load.
/// Thread-safe: it holds no state besides the randomness source.
/// </remarks>
public sealed class TpmCredentialIssuer : ITpmCredentialIssuer
{
    /// <summary>Length of the blob for RSA-2048 keys: 54 + 258 + 144 + 258 + 50 + 2.</summary>
    internal const int BlobSize = TpmCredentialMaker.IdObjectSize + TpmCredentialMaker.EncryptedSecretSize
        + DuplicateSize + TpmCredentialMaker.EncryptedSecretSize + (2 + TpmIdentityKeyObject.PublicAreaSize) + 2;

    /// <summary>TPM2B_PRIVATE of the identity key: size, outer HMAC, inner digest, TPM2B_SENSITIVE.</summary>
    internal const int DuplicateSize = 2 + (2 + TpmConstants.Sha256Size) + (2 + TpmConstants.Sha256Size) + (2 + TpmIdentityKeyObject.SensitiveAreaSize);

    /// <summary>Random bytes one blob consumes, in this order: identity key, seedValue, inner key, MakeCredential, duplication.</summary>
    internal const int RandomPerBlob = TpmIdentityKeyObject.KeySize + TpmConstants.Sha256Size + TpmCredentialMaker.CredentialSize
        + TpmCredentialMaker.RandomSize + TpmDuplicator.RandomSize;

    private readonly Action<Span<byte>> _fillRandom;

    /// <summary>Creates an issuer drawing its keys and seeds from the system's cryptographic random generator.</summary>
    public TpmCredentialIssuer()
        : this(RandomNumberGenerator.Fill)
    {
    }

    /// <summary>Creates an issuer with a given randomness source (tests use a deterministic one).</summary>
    internal TpmCredentialIssuer(Action<Span<byte>> fillRandom)
    {
        ArgumentNullException.ThrowIfNull(fillRandom);
        _fillRandom = fillRandom;
    }

    /// <inheritdoc />
    public TpmIssuedCredential Issue(ReadOnlySpan<byte> endorsementKey, ReadOnlySpan<byte> storageRootKey)
    {
        var ek = TpmDeviceKey.Parse(endorsementKey, TpmDeviceKeyRole.Endorsement);
        var srk = TpmDeviceKey.Parse(storageRootKey, TpmDeviceKeyRole.StorageRoot);

        var identityKey = new byte[TpmIdentityKeyObject.KeySize];
        Span<byte> random = stackalloc byte[RandomPerBlob - TpmIdentityKeyObject.KeySize];
        Span<byte> sensitive = stackalloc byte[TpmIdentityKeyObject.SensitiveAreaSize];
        try
        {
            _fillRandom(identityKey);
            _fillRandom(random);
            var seedValue = random[..TpmConstants.Sha256Size];
            var innerKey = random.Slice(TpmConstants.Sha256Size, TpmCredentialMaker.CredentialSize);
            var credentialRandom = random.Slice(TpmConstants.Sha256Size + TpmCredentialMaker.CredentialSize, TpmCredentialMaker.RandomSize);
            var duplicationRandom = random[^TpmDuplicator.RandomSize..];

            var blob = new byte[BlobSize];
            var writer = new TpmWireWriter(blob);

            // Parts 1 and 2: the inner key as a credential for the EK, bound to the SRK's name.
            TpmCredentialMaker.Make(ek, srk.Name, innerKey, credentialRandom, ref writer);

            // The identity key's public area goes last in the blob but its name is needed first.
            Span<byte> publicArea = stackalloc byte[TpmIdentityKeyObject.PublicAreaSize];
            var publicWriter = new TpmWireWriter(publicArea);
            TpmIdentityKeyObject.WritePublicArea(seedValue, identityKey, ref publicWriter);
            var objectName = TpmDeviceKey.ComputeName(publicArea);

            // Parts 3 and 4: the identity key duplicated to the SRK under the inner key.
            var sensitiveWriter = new TpmWireWriter(sensitive);
            TpmIdentityKeyObject.WriteSensitiveArea(seedValue, identityKey, ref sensitiveWriter);
            TpmDuplicator.Duplicate(srk, objectName, sensitive, innerKey, duplicationRandom, ref writer);

            // Parts 5 and 6: the public area, and the empty field the SDKs read and ignore.
            writer.WriteSized(publicArea);
            writer.WriteUInt16(0);
            if (writer.Position != BlobSize)
            {
                throw new InvalidOperationException($"Activation blob is {writer.Position} bytes, expected {BlobSize}.");
            }

            return new TpmIssuedCredential(blob, identityKey);
        }
        catch
        {
            CryptographicOperations.ZeroMemory(identityKey);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(random);
            CryptographicOperations.ZeroMemory(sensitive);
        }
    }
}
