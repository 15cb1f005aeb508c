using System.Security.Cryptography;

namespace Provisioning.Device;

/// <summary>Holds a symmetric key for as long as tokens must be signed with it, and signs with HMAC-SHA256; zeroes it on dispose.
/// The one holder of symmetric keys for both DPS (<see cref="SymmetricKeyAttestation"/>) and the hub
/// (<c>HubAuthentication.FromSymmetricKey</c>).</summary>
/// <remarks>dps-protocol.md §3 (DPS and hub SAS are both HMAC-SHA256 with the device key).</remarks>
internal sealed class SymmetricKeySigner : IDisposable
{
    private readonly byte[] _key;
    private bool _disposed;

    /// <summary>Takes ownership of <paramref name="key"/> (zeroed on dispose).</summary>
    public SymmetricKeySigner(byte[] key) => _key = key;

    /// <summary>Copies <paramref name="key"/>.</summary>
    public SymmetricKeySigner(ReadOnlySpan<byte> key) => _key = key.ToArray();

    /// <summary>HMAC-SHA256 of <paramref name="data"/>; the caller zeroes the result.</summary>
    public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ValueTask.FromResult(HMACSHA256.HashData(_key, data.Span));
    }

    public void Dispose()
    {
        _disposed = true;
        CryptographicOperations.ZeroMemory(_key);
    }
}
