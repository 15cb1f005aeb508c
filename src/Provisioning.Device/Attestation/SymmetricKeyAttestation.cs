using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device;

/// <summary>Symmetric-key attestation: the device signs SAS tokens with its key (dps-protocol.md §3).</summary>
public sealed class SymmetricKeyAttestation : ProvisioningAttestation
{
    private readonly string _registrationId;
    private readonly SymmetricKeySigner _key;

    /// <summary>Creates the attestation of an individual enrollment, or of a group member whose key is already derived.</summary>
    /// <param name="registrationId">The registration id.</param>
    /// <param name="deviceKey">The device key, base64 (the enrollment's primary key).</param>
    /// <exception cref="ArgumentException">The id is empty or the key is not base64.</exception>
    public SymmetricKeyAttestation(string registrationId, string deviceKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(registrationId);
        ArgumentException.ThrowIfNullOrEmpty(deviceKey);
        _registrationId = registrationId;
        _key = new SymmetricKeySigner(DecodeKey(deviceKey, nameof(deviceKey)));
    }

    /// <summary>Creates the attestation of a member of a symmetric-key enrollment group, deriving its key.</summary>
    /// <param name="registrationId">The registration id.</param>
    /// <param name="groupKey">The enrollment group's key, base64.</param>
    public static SymmetricKeyAttestation FromEnrollmentGroup(string registrationId, string groupKey) =>
        new(registrationId, DeriveDeviceKey(groupKey, registrationId));

    /// <summary>
    /// Derives a group member's device key: <c>base64(HMAC-SHA256(base64decode(groupKey), UTF8(registrationId)))</c>
    /// (dps-protocol.md §3).
    /// </summary>
    /// <param name="groupKey">The enrollment group's key, base64.</param>
    /// <param name="registrationId">The member's registration id.</param>
    /// <returns>The device key, base64.</returns>
    public static string DeriveDeviceKey(string groupKey, string registrationId)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupKey);
        ArgumentException.ThrowIfNullOrEmpty(registrationId);
        byte[] key = DecodeKey(groupKey, nameof(groupKey));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        try
        {
            HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(registrationId), mac);
            return Convert.ToBase64String(mac);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(mac);
        }
    }

    /// <inheritdoc/>
    public override ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_registrationId);

    internal override ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _key.SignAsync(data, cancellationToken);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        _key.Dispose();
        base.Dispose(disposing);
    }

    private static byte[] DecodeKey(string base64, string parameterName) =>
        Serialization.Base64Secret.TryDecode(base64) ?? throw new ArgumentException("The key is not valid base64.", parameterName);
}
