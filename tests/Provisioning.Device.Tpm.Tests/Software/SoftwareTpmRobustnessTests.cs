namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>Bad bytes from a caller never crash the software TPM: every mutated command gets a well-formed response.</summary>
public sealed class SoftwareTpmRobustnessTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MutatedCommandsOfAnActivation_AllGetAWellFormedResponse_AndTheTpmStillWorks()
    {
        // Record the command stream of a real activation and signature.
        await using var software = new SoftwareTpmTransport();
        await using var recorder = new RecordingTpmTransport(software, ownsInner: false);
        await using (var identity = new TpmIdentity(recorder, ownsTransport: false))
        {
            var issued = await Issue.ForAsync(identity, cancellationToken: Ct);
            await identity.ActivateIdentityKeyAsync(issued.AuthenticationKey, Ct);
            await identity.SignAsync(new byte[2000], Ct);
        }

        // CreatePrimary is left out: each mutated template is a new primary key, an RSA-2048 generation of a few hundred ms.
        var commands = recorder.Exchanges.Select(e => e.Command).Where(c => c.Length < TpmMessage.HeaderSize + 4
            || (TpmCommandCode)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(c.AsSpan(6)) != TpmCommandCode.CreatePrimary).ToList();
        Assert.Contains(commands, c => (TpmCommandCode)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(c.AsSpan(6)) == TpmCommandCode.Import);

        var random = new Random(20261127);
        var errors = 0;
        foreach (var command in commands)
        {
            for (var i = 0; i < 25; i++)
            {
                var mutated = Mutate(command, random);
                var response = await software.ExecuteAsync(mutated, Ct);
                var reader = new TpmReader(response);
                var header = TpmMessage.ReadHeader(ref reader, response.Length);
                errors += header.Code == TpmResponseCode.Success ? 0 : 1;

                // Flush whatever a mutated command left loaded, as a careful client would.
                var tpm = new TpmCommands(software);
                foreach (var type in new[] { TpmHandles.TransientType, TpmHandles.PolicySessionType })
                {
                    foreach (var handle in await tpm.GetHandlesAsync(type, Ct))
                    {
                        await tpm.FlushContextAsync(handle, Ct);
                    }
                }
            }
        }

        Assert.True(errors > commands.Count * 12, $"only {errors} mutated commands were refused");
        await using var after = new TpmIdentity(software, ownsTransport: false);
        var next = await Issue.ForAsync(after, cancellationToken: Ct);
        await after.ActivateIdentityKeyAsync(next.AuthenticationKey, Ct);
        Assert.Equal(System.Security.Cryptography.HMACSHA256.HashData(next.IdentityKey, "ok"u8), await after.SignAsync("ok"u8.ToArray(), Ct));
    }

    private static byte[] Mutate(byte[] command, Random random)
    {
        var bytes = (byte[])command.Clone();
        switch (random.Next(4))
        {
            case 0: // flip a bit after the header
                var position = bytes.Length > TpmMessage.HeaderSize ? random.Next(TpmMessage.HeaderSize, bytes.Length) : random.Next(bytes.Length);
                bytes[position] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1: // truncate, keeping the size field honest
                var cut = bytes[..random.Next(TpmMessage.HeaderSize, bytes.Length + 1)];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(cut.AsSpan(2), (uint)cut.Length);
                return cut;
            case 2: // a random byte anywhere, header included
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            default: // a size field inside the command set to a large value
                var at = random.Next(TpmMessage.HeaderSize, Math.Max(TpmMessage.HeaderSize + 1, bytes.Length - 1));
                if (at + 1 < bytes.Length)
                {
                    bytes[at] = 0xFF;
                    bytes[at + 1] = (byte)random.Next(256);
                }

                return bytes;
        }
    }
}
