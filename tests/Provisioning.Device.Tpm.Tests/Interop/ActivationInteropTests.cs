using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Interop;

/// <summary>A second swtpm plays DPS with tpm2-tools; our stack activates its blob on the device swtpm (dps-protocol.md §2.3).</summary>
[Trait("Category", "Interop")]
public sealed class ActivationInteropTests(SwtpmFixture device) : IClassFixture<SwtpmFixture>, IAsyncLifetime
{
    private SwtpmInstance? _helper;

    public async ValueTask InitializeAsync()
    {
        if (Swtpm.IsInstalled && Swtpm.ToolsInstalled)
        {
            _helper = await SwtpmInstance.StartNewAsync(cancellationToken: TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_helper is not null)
        {
            await _helper.DisposeAsync();
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Activate_BlobBuiltWithTpm2Tools_SignsLikeOpensslHmac_Over64And3000Bytes()
    {
        var tpm = await device.GetAsync(tools: true);
        var blob = await BuildBlobAsync(tpm);
        var signatures = new Dictionary<int, (byte[] Data, byte[] Mac)>();
        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            await identity.ActivateIdentityKeyAsync(blob.Blob, Ct);
            foreach (var length in new[] { 64, 3000, 1024, 1025, 2048 })
            {
                var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);
                signatures[length] = (data, await identity.SignAsync(data, Ct));
            }
        }

        foreach (var (length, (data, mac)) in signatures)
        {
            var expected = await DpsBlobBuilder.OpensslHmacAsync(blob.IdentityKey, data, Ct);
            Assert.True(expected.AsSpan().SequenceEqual(mac), $"HMAC over {length} bytes differs from openssl's");
        }

        await AssertNothingLoadedAsync(tpm);
    }

    [Fact]
    public async Task Activate_TamperedBlob_IsRefused_AndTheEarlierIdentityKeyKeepsWorking()
    {
        var tpm = await device.GetAsync(tools: true);
        var good = await BuildBlobAsync(tpm);
        var data = "the string to sign"u8.ToArray();
        var expected = await DpsBlobBuilder.OpensslHmacAsync(good.IdentityKey, data, Ct);
        var fresh = await BuildBlobAsync(tpm);
        var parts = PartOffsets(fresh.Blob);
        Assert.Equal(6, parts.Count);
        Assert.Equal(fresh.Blob.Length, parts[5].Offset + 2);

        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            await identity.ActivateIdentityKeyAsync(good.Blob, Ct);
            for (var part = 0; part < 5; part++)
            {
                // Flip one bit in the middle of the part's contents, and one in its size field (a broken container).
                var (offset, size) = parts[part];
                foreach (var position in new[] { offset + 2 + (size / 2), offset + 1 })
                {
                    var tampered = (byte[])fresh.Blob.Clone();
                    tampered[position] ^= 0x10;
                    var error = await Assert.ThrowsAnyAsync<Exception>(async () => await identity.ActivateIdentityKeyAsync(tampered, Ct));
                    Assert.True(error is TpmException or TpmFormatException, $"part {part + 1} at {position}: {error}");
                    Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(await identity.SignAsync(data, Ct)));
                }
            }
        }

        await AssertNothingLoadedAsync(tpm);

        // The untampered fresh blob still activates and replaces the earlier key.
        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            await identity.ActivateIdentityKeyAsync(fresh.Blob, Ct);
            var replaced = await DpsBlobBuilder.OpensslHmacAsync(fresh.IdentityKey, data, Ct);
            Assert.Equal(Convert.ToHexString(replaced), Convert.ToHexString(await identity.SignAsync(data, Ct)));
        }
    }

    [Fact]
    public async Task Activate_BlobForAnotherTpm_FailsWithATpmError_AndFlushesEverything()
    {
        var tpm = await device.GetAsync(tools: true);
        var blob = await BuildBlobAsync(_helper!);

        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.ActivateIdentityKeyAsync(blob.Blob, Ct));
            Assert.NotEqual(0u, error.ResponseCode);
            Assert.Contains("TPM2_ActivateCredential", error.Message, StringComparison.Ordinal);
        }

        await AssertNothingLoadedAsync(tpm);
    }

    /// <summary>A blob for <paramref name="target"/>'s keys; our connection is closed before tpm2-tools run (swtpm serves one client).</summary>
    private async Task<DpsBlob> BuildBlobAsync(SwtpmInstance target)
    {
        byte[] ek, srk;
        await using (var identity = TpmIdentity.Open(target.TransportSpec))
        {
            ek = await identity.GetEndorsementKeyAsync(Ct);
            srk = await identity.GetStorageRootKeyAsync(Ct);
        }

        return await DpsBlobBuilder.BuildAsync(_helper!, ek, srk, Ct);
    }

    private static List<(int Offset, int Size)> PartOffsets(byte[] blob)
    {
        var parts = new List<(int, int)>();
        for (var offset = 0; offset < blob.Length;)
        {
            var size = (blob[offset] << 8) | blob[offset + 1];
            parts.Add((offset, size));
            offset += 2 + size;
        }

        return parts;
    }

    /// <summary>No transient object, sequence or session is left behind (swtpm holds only three objects).</summary>
    internal static async Task AssertNothingLoadedAsync(SwtpmInstance tpm)
    {
        var transient = await tpm.ToolAsync("tpm2_getcap", ["handles-transient"], cancellationToken: Ct);
        Assert.Equal(string.Empty, transient.EnsureSuccess("tpm2_getcap").StandardOutput.Trim());
        var sessions = await tpm.ToolAsync("tpm2_getcap", ["handles-loaded-session"], cancellationToken: Ct);
        Assert.Equal(string.Empty, sessions.EnsureSuccess("tpm2_getcap").StandardOutput.Trim());
    }
}
