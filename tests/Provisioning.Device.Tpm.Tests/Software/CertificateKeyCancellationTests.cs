using System.Buffers.Binary;

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>A certificate key's creation cancelled while the TPM loads it (a DeviceClient disposed during a renewal) leaves no
/// transient object behind: on a TPM without a resource manager (swtpm, /dev/tpm0) a leaked one holds one of its few object
/// slots for good. The key is persisted, the transient flushed, then the cancellation is reported.</summary>
public sealed class CertificateKeyCancellationTests
{
    private const uint Handle = 0x8100_0150;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EnsureCertificateKey_CancelledDuringLoad_LeavesNoTransientObject_AndTheKeyPersisted()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var transport = new CancelOnLoad(new SoftwareTpmTransport(), cancel);
        await using var identity = new TpmIdentity(transport, ownsTransport: false);
        await identity.EnsureKeysAsync(Ct);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await identity.EnsureCertificateKeyAsync(Handle, TpmTemplates.EccP256SigningKey, cancellationToken: cancel.Token));

        Assert.True(transport.LoadSeen);
        var tpm = new TpmCommands(transport.Inner) { StartOnDemand = true };
        Assert.Empty(await tpm.GetHandlesAsync(0x80, Ct)); // nothing transient left loaded
        Assert.Contains(Handle, await tpm.GetHandlesAsync(0x81, Ct));
        Assert.NotNull(await identity.ReadCertificateKeyAsync(Handle, Ct));
        await transport.Inner.DisposeAsync();
    }

    /// <summary>Runs each command on the software TPM; on TPM2_Load, the caller's token is cancelled while the TPM runs it,
    /// and, as a socket transport does, a cancelled caller gets no response (the object is loaded all the same).</summary>
    private sealed class CancelOnLoad(SoftwareTpmTransport inner, CancellationTokenSource cancel) : TpmTransport
    {
        public SoftwareTpmTransport Inner => inner;

        public bool LoadSeen { get; private set; }

        public override async ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
        {
            var load = BinaryPrimitives.ReadUInt32BigEndian(command.Span.Slice(6, 4)) == (uint)TpmCommandCode.Load;
            var response = await inner.ExecuteAsync(command, CancellationToken.None);
            if (load && !LoadSeen)
            {
                LoadSeen = true;
                await cancel.CancelAsync();
            }

            cancellationToken.ThrowIfCancellationRequested();
            return response;
        }
    }
}
