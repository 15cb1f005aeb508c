using Provisioning.Device.Tpm;

namespace Provisioning.Device;

/// <summary>The real TPM behind <see cref="ITpmDevice"/>: each call goes to <see cref="TpmIdentity"/> unchanged.</summary>
internal sealed class TpmIdentityDevice(TpmIdentity identity) : ITpmDevice
{
    public ValueTask<byte[]> GetEndorsementKeyAsync(CancellationToken cancellationToken) => identity.GetEndorsementKeyAsync(cancellationToken);

    public ValueTask<byte[]> GetStorageRootKeyAsync(CancellationToken cancellationToken) => identity.GetStorageRootKeyAsync(cancellationToken);

    public ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken) => identity.GetRegistrationIdAsync(cancellationToken);

    public ValueTask ActivateIdentityKeyAsync(ReadOnlyMemory<byte> authenticationKey, CancellationToken cancellationToken) =>
        identity.ActivateIdentityKeyAsync(authenticationKey, cancellationToken);

    public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => identity.SignAsync(data, cancellationToken);
}
