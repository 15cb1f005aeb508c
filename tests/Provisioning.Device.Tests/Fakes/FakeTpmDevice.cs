using System.Security.Cryptography;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>
/// A fake TPM identity: the "activated" identity key is SHA-256 of the activation blob, so a test knows which key
/// signed what. Each member can be made to hang until cancelled.
/// </summary>
internal sealed class FakeTpmDevice : ITpmDevice
{
    private byte[]? _identityKey;

    public byte[] EndorsementKey { get; } = MakeKey(0x013A, 0xE1);

    public byte[] StorageRootKey { get; } = MakeKey(0x011A, 0x5E);

    public string RegistrationId { get; init; } = "un4jahv4cdr7rgz3jczknzja3jgon43u6fxovm6zss4tix2xjmoq";

    public List<byte[]> ActivatedBlobs { get; } = [];

    public List<string> Calls { get; } = [];

    /// <summary>The member that hangs (e.g. "Activate"), and the signal that it was entered.</summary>
    public string? HangIn { get; set; }

    /// <summary>How many calls of <see cref="HangIn"/> complete before one hangs.</summary>
    public int HangAfter { get; set; }

    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static byte[] KeyFor(byte[] blob) => SHA256.HashData(blob);

    public async ValueTask<byte[]> GetEndorsementKeyAsync(CancellationToken cancellationToken)
    {
        await Step("GetEndorsementKey", cancellationToken);
        return EndorsementKey;
    }

    public async ValueTask<byte[]> GetStorageRootKeyAsync(CancellationToken cancellationToken)
    {
        await Step("GetStorageRootKey", cancellationToken);
        return StorageRootKey;
    }

    public async ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken)
    {
        await Step("GetRegistrationId", cancellationToken);
        return RegistrationId;
    }

    public async ValueTask ActivateIdentityKeyAsync(ReadOnlyMemory<byte> authenticationKey, CancellationToken cancellationToken)
    {
        await Step("Activate", cancellationToken);
        if (authenticationKey.Span[0] == 0xFF)
        {
            // What a real TPM says of a blob not made for its EK.
            throw new InvalidDataException("TPM_RC_INTEGRITY (0x9A2): integrity check failed");
        }

        byte[] blob = authenticationKey.ToArray();
        ActivatedBlobs.Add(blob);
        _identityKey = KeyFor(blob);
    }

    public async ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await Step("Sign", cancellationToken);
        byte[] key = _identityKey ?? throw new InvalidOperationException("Sign before any activation.");
        return HMACSHA256.HashData(key, data.Span);
    }

    private async Task Step(string name, CancellationToken cancellationToken)
    {
        Calls.Add(name);
        cancellationToken.ThrowIfCancellationRequested();
        if (HangIn == name && Calls.Count(c => c == name) > HangAfter)
        {
            Entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }

    private static byte[] MakeKey(ushort size, byte fill)
    {
        byte[] key = new byte[size + 2];
        key[0] = (byte)(size >> 8);
        key[1] = (byte)size;
        key.AsSpan(2).Fill(fill);
        return key;
    }
}
