using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Interop;

/// <summary>The TPM as it is met in the field, on swtpm: frozen, busy, spoken to in the wrong framing, with a foreign (ECC) EK,
/// with hierarchy passwords, with its object memory full. Every wait is a short configured deadline, never the 30 s default.</summary>
[Trait("Category", "Interop")]
public sealed class FieldConditionsInteropTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Options whose quick-command deadline is short: for a TPM that will not answer (the wait is the point).</summary>
    private static TpmIdentityOptions Quick() => new() { Transport = new TpmTransportOptions { Timeout = Short } };

    /// <summary>Options for a peer that answers at once, wrongly: bounded well below the default, with room for a loaded machine.</summary>
    private static TpmIdentityOptions Bounded() => new() { Transport = new TpmTransportOptions { Timeout = TimeSpan.FromSeconds(10) } };

    [Fact]
    public async Task FrozenTpm_IsReportedAsNotAnswering_WithinTheConfiguredDeadline_AndRecoversWhenItRuns()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var identity = TpmIdentity.Open(tpm.TransportSpec, Quick());
        await tpm.SuspendAsync(Ct);
        try
        {
            var error = await Assert.ThrowsAsync<TimeoutException>(async () => await identity.GetRegistrationIdAsync(Ct));
            Assert.Contains("did not answer TPM2_ReadPublic within 1 s", error.Message, StringComparison.Ordinal);
            Assert.Contains("not answering", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("busy", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await tpm.ResumeAsync(Ct);
        }

        // Running again, it serves the same identity (new connection), with the default deadlines: no flake under load.
        await using var again = TpmIdentity.Open(tpm.TransportSpec);
        Assert.Equal(52, (await again.GetRegistrationIdAsync(Ct)).Length);
    }

    [Fact]
    public async Task TpmHeldByAnotherClient_IsBusy_NotDead_AndServesUsOnceReleased()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var identity = TpmIdentity.Open(tpm.TransportSpec, Quick());
        using (var holder = new TcpClient())
        {
            // Another client takes swtpm's only connection, and is served.
            await holder.ConnectAsync(IPAddress.Loopback, tpm.Port, Ct);
            await holder.GetStream().WriteAsync(Convert.FromHexString("80010000000C0000017B0008"), Ct);
            await holder.GetStream().ReadExactlyAsync(new byte[20], Ct);

            var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetRegistrationIdAsync(Ct));
            Assert.True(error.IsBusy);
            Assert.Contains("is busy", error.Message, StringComparison.Ordinal);
            Assert.Contains("another client holds it", error.Message, StringComparison.Ordinal);
        }

        await using var again = TpmIdentity.Open(tpm.TransportSpec);
        Assert.Equal(52, (await again.GetRegistrationIdAsync(Ct)).Length);
    }

    [Fact]
    public async Task NothingListening_IsBusyOrAbsent_NotATimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var identity = TpmIdentity.Open($"swtpm:127.0.0.1:{port}", Bounded());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetRegistrationIdAsync(Ct));
        Assert.True(error.IsBusy);
        Assert.Contains("nothing accepts connections", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MssimSpec_PointedAtSwtpm_SuggestsTheSwtpmSpec()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var identity = TpmIdentity.Open($"mssim:127.0.0.1:{tpm.Port}", Bounded());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetRegistrationIdAsync(Ct));
        Assert.Contains($"use swtpm:127.0.0.1:{tpm.Port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SwtpmSpec_PointedAtTheControlPort_SuggestsTheDataPort()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var identity = TpmIdentity.Open($"swtpm:127.0.0.1:{tpm.ControlPort}", Bounded());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetRegistrationIdAsync(Ct));
        Assert.Contains("swtpm's control channel", error.Message, StringComparison.Ordinal);
        Assert.Contains($"swtpm:127.0.0.1:{tpm.Port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnixSpec_PointedAtSwtpmsControlSocket_SuggestsTheServerSocket()
    {
        Swtpm.RequireOrSkip();
        var dir = Directory.CreateTempSubdirectory("provisioning-swtpm-ctrl").FullName;
        var pidFile = Path.Combine(dir, "swtpm.pid");
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "state"));
            var control = Path.Combine(dir, "ctrl.sock");
            (await ProcessRunner.RunAsync(
                "swtpm",
                [
                    "socket", "--tpm2", "--tpmstate", $"dir={Path.Combine(dir, "state")}",
                    "--server", $"type=unixio,path={Path.Combine(dir, "tpm.sock")}", "--ctrl", $"type=unixio,path={control}",
                    "--flags", "not-need-init,startup-clear", "--pid", $"file={pidFile}", "--daemon",
                ],
                cancellationToken: Ct)).EnsureSuccess("swtpm");

            await using var identity = TpmIdentity.Open("unix:" + control, Bounded());
            var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetRegistrationIdAsync(Ct));
            Assert.Contains("swtpm's control channel", error.Message, StringComparison.Ordinal);
            Assert.Contains("--server type=unixio", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (File.Exists(pidFile))
            {
                using var process = System.Diagnostics.Process.GetProcessById(int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture));
                process.Kill();
                await process.WaitForExitAsync(Ct);
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task SwtpmSpec_PointedAtAMicrosoftSimulator_SuggestsTheMssimSpec()
    {
        // A stand-in for the reference simulator's command port: framed commands only; anything else closes the connection.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var simulator = Task.Run(
            async () =>
            {
                using var client = await listener.AcceptTcpClientAsync(Ct);
                var four = new byte[4];
                await client.GetStream().ReadExactlyAsync(four, Ct);
                Assert.NotEqual(8u, BinaryPrimitives.ReadUInt32BigEndian(four)); // not TPM_SEND_COMMAND: hang up
            },
            Ct);
        await using var identity = TpmIdentity.Open($"swtpm:127.0.0.1:{port}", Bounded());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetRegistrationIdAsync(Ct));
        Assert.Contains($"use mssim:127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        await simulator;
    }

    [Fact]
    public async Task EccEkAtTheEkHandle_IsDescribed_LeftInPlace_AndAnotherHandleWorks()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        (await tpm.ToolAsync("tpm2_createek", ["-G", "ecc", "-c", "0x81010001"], cancellationToken: Ct)).EnsureSuccess("tpm2_createek -G ecc");

        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.EnsureKeysAsync(Ct));
            Assert.Contains("0x81010001", error.Message, StringComparison.Ordinal);
            Assert.Contains("an ECC key on curve NIST P-256", error.Message, StringComparison.Ordinal);
            Assert.Contains("needs the RSA-2048 endorsement key", error.Message, StringComparison.Ordinal);
            Assert.Contains("left in place", error.Message, StringComparison.Ordinal);
            Assert.Contains("TpmIdentityOptions.EndorsementKeyHandle", error.Message, StringComparison.Ordinal);
        }

        var handles = (await tpm.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct)).EnsureSuccess("tpm2_getcap").StandardOutput;
        Assert.Contains("0x81010001", handles, StringComparison.Ordinal);

        await using (var identity = TpmIdentity.Open(tpm.TransportSpec, new TpmIdentityOptions { EndorsementKeyHandle = 0x81010002 }))
        {
            Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(await identity.GetEndorsementKeyAsync(Ct)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ObjectMemoryFull_ExplainsWhoLeftObjectsAndWhatToDo()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            // Another program's objects, left loaded (swtpm has no resource manager and holds three).
            for (var i = 0; i < 3; i++)
            {
                (await tpm.ToolAsync("tpm2_createprimary", ["-C", "o", "-G", "ecc", "-c", $"p{i}.ctx"], workingDirectory: dir, cancellationToken: Ct)).EnsureSuccess("tpm2_createprimary");
            }

            var identity = TpmIdentity.Open(tpm.TransportSpec);
            var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.EnsureKeysAsync(Ct));
            await identity.DisposeAsync(); // swtpm serves one client: tpm2-tools needs the connection
            Assert.Equal(TpmResponseCode.ObjectMemory, error.ResponseCode);
            Assert.Contains("TPM_RC_OBJECT_MEMORY", error.Message, StringComparison.Ordinal);
            Assert.Contains("left loaded by another program", error.Message, StringComparison.Ordinal);
            Assert.Contains("no resource manager", error.Message, StringComparison.Ordinal);
            Assert.Contains("/dev/tpmrm0", error.Message, StringComparison.Ordinal);
            Assert.Contains("tpm2_flushcontext -t", error.Message, StringComparison.Ordinal);

            (await tpm.ToolAsync("tpm2_flushcontext", ["-t"], cancellationToken: Ct)).EnsureSuccess("tpm2_flushcontext");
            await using var again = TpmIdentity.Open(tpm.TransportSpec);
            await again.EnsureKeysAsync(Ct);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task HierarchyPasswords_EachRefusalNamesItsHierarchyAndFlag_AndWithBothTheWholeFlowWorks()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var helper = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        (await tpm.ToolAsync("tpm2_changeauth", ["-c", "owner", "owner-secret-1"], cancellationToken: Ct)).EnsureSuccess("tpm2_changeauth -c owner");
        (await tpm.ToolAsync("tpm2_changeauth", ["-c", "endorsement", "endorsement-secret-2"], cancellationToken: Ct)).EnsureSuccess("tpm2_changeauth -c endorsement");
        var owner = "owner-secret-1"u8.ToArray();
        var endorsement = "endorsement-secret-2"u8.ToArray();

        async Task<TpmException> RefusedAsync(TpmIdentityOptions options)
        {
            await using var identity = TpmIdentity.Open(tpm.TransportSpec, options);
            var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.EnsureKeysAsync(Ct));
            Assert.Equal(TpmResponseCode.BadAuth, error.BaseResponseCode);
            Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
            return error;
        }

        var none = await RefusedAsync(new TpmIdentityOptions());
        Assert.Contains("The endorsement hierarchy refused", none.Message, StringComparison.Ordinal);
        Assert.Contains("--endorsement-auth", none.Message, StringComparison.Ordinal);
        Assert.Contains("No endorsement password was given", none.Message, StringComparison.Ordinal);

        var endorsementOnly = await RefusedAsync(new TpmIdentityOptions { EndorsementAuth = endorsement });
        Assert.Contains("The owner hierarchy refused", endorsementOnly.Message, StringComparison.Ordinal);
        Assert.Contains("--owner-auth", endorsementOnly.Message, StringComparison.Ordinal);

        var wrong = await RefusedAsync(new TpmIdentityOptions { EndorsementAuth = endorsement, OwnerAuth = "not-the-secret"u8.ToArray() });
        Assert.Contains("The owner password given is not the owner hierarchy's", wrong.Message, StringComparison.Ordinal);

        DpsBlob blob;
        await using (var identity = TpmIdentity.Open(tpm.TransportSpec, new TpmIdentityOptions { OwnerAuth = owner, EndorsementAuth = endorsement }))
        {
            var ek = await identity.GetEndorsementKeyAsync(Ct);
            var srk = await identity.GetStorageRootKeyAsync(Ct);
            blob = await DpsBlobBuilder.BuildAsync(helper, ek, srk, Ct);
            await identity.ActivateIdentityKeyAsync(blob.Blob, Ct);
            await identity.ActivateIdentityKeyAsync(blob.Blob, Ct); // replaces the first: evicting needs the owner password too
            var data = new byte[100];
            Assert.Equal(await DpsBlobBuilder.OpensslHmacAsync(blob.IdentityKey, data, Ct), await identity.SignAsync(data, Ct));
        }

        // The policy session of the activation needs the endorsement password: without it, the refusal names that hierarchy.
        await using var noEndorsement = TpmIdentity.Open(tpm.TransportSpec, new TpmIdentityOptions { OwnerAuth = owner });
        var activation = await Assert.ThrowsAsync<TpmException>(async () => await noEndorsement.ActivateIdentityKeyAsync(blob.Blob, Ct));
        Assert.Contains("The endorsement hierarchy refused", activation.Message, StringComparison.Ordinal);
        Assert.Contains("PolicySecret", activation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandCounts_FirstRun8_LaterRuns2_Activation10_Sign1To4()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var helper = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);

        async Task<int> CountAsync(Func<TpmIdentity, ValueTask> action)
        {
            await using var recorder = new RecordingTpmTransport(TpmTransport.Open(tpm.TransportSpec));
            await using var identity = new TpmIdentity(recorder, ownsTransport: false);
            await action(identity);
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", recorder.Exchanges.Select(e => $"{e.CommandCode}:{e.ResponseCode:X}")));
            return recorder.Exchanges.Count(e => !TpmResponseCode.IsRetryable(e.ResponseCode)); // a TPM_RC_RETRY (swtpm after NV writes) is the TPM's, not ours
        }

        byte[] ek = [], srk = [];
        // No TPM2_Startup (swtpm is started: it would be sent on TPM_RC_INITIALIZE). Per key: ReadPublic (absent), CreatePrimary,
        // EvictControl, FlushContext.
        Assert.Equal(8, await CountAsync(async i => { ek = await i.GetEndorsementKeyAsync(Ct); srk = await i.GetStorageRootKeyAsync(Ct); }));
        Assert.Equal(2, await CountAsync(async i => await i.EnsureKeysAsync(Ct)));
        var blob = await DpsBlobBuilder.BuildAsync(helper, ek, srk, Ct);
        // 2 ReadPublic; StartAuthSession, PolicySecret, ActivateCredential (ends the session), Import, Load, EvictControl of the
        // identity handle (nothing there yet), EvictControl (persist), FlushContext.
        Assert.Equal(10, await CountAsync(async i => await i.ActivateIdentityKeyAsync(blob.Blob, Ct)));
        Assert.Equal(1, await CountAsync(async i => await i.SignAsync(new byte[64], Ct)));
        Assert.Equal(4, await CountAsync(async i => await i.SignAsync(new byte[3000], Ct)));
    }
}
