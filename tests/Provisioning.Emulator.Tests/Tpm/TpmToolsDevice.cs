using Provisioning.Testing;

namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>
/// A device played by swtpm and tpm2-tools alone (tpm-lab.md): EK at 0x81010001, SRK at 0x81000001, and the DPS
/// activation sequence of dps-protocol.md §2.3 with no code of ours on the device side.
/// </summary>
internal sealed class TpmToolsDevice
{
    private readonly SwtpmInstance _tpm;
    private readonly string _dir;

    private TpmToolsDevice(SwtpmInstance tpm, string dir, byte[] ek, byte[] srk)
    {
        _tpm = tpm;
        _dir = dir;
        EndorsementKey = ek;
        StorageRootKey = srk;
    }

    public byte[] EndorsementKey { get; }

    public byte[] StorageRootKey { get; }

    /// <summary>Creates (or finds) the persisted EK and SRK and reads their TPM2B_PUBLIC (tpm2-tools "tss" format: size included).</summary>
    public static async Task<TpmToolsDevice> ProvisionAsync(SwtpmInstance tpm, string dir, CancellationToken ct)
    {
        var ekPub = Path.Combine(dir, "ek.pub");
        var srkPub = Path.Combine(dir, "srk.pub");
        if ((await tpm.ToolAsync("tpm2_readpublic", ["-c", "0x81010001", "-o", ekPub], cancellationToken: ct)).ExitCode != 0)
        {
            (await tpm.ToolAsync("tpm2_createek", ["-c", "0x81010001", "-G", "rsa", "-u", ekPub], cancellationToken: ct)).EnsureSuccess("tpm2_createek");
        }

        if ((await tpm.ToolAsync("tpm2_readpublic", ["-c", "0x81000001", "-o", srkPub], cancellationToken: ct)).ExitCode != 0)
        {
            var srkCtx = Path.Combine(dir, "srk.ctx");
            (await CreateSrkLikePrimaryAsync(tpm, new byte[256], srkCtx, ct)).EnsureSuccess("tpm2_createprimary (SRK)");
            (await tpm.ToolAsync("tpm2_evictcontrol", ["-C", "o", "-c", srkCtx, "0x81000001"], cancellationToken: ct)).EnsureSuccess("tpm2_evictcontrol");
            (await tpm.ToolAsync("tpm2_readpublic", ["-c", "0x81000001", "-o", srkPub], cancellationToken: ct)).EnsureSuccess("tpm2_readpublic (SRK)");
        }

        await FlushAsync(tpm, ct);
        return new TpmToolsDevice(tpm, dir, await File.ReadAllBytesAsync(ekPub, ct), await File.ReadAllBytesAsync(srkPub, ct));
    }

    /// <summary>A second storage primary with the SRK template but another unique field: a different key, not persisted.</summary>
    public async Task<byte[]> CreateOtherSrkAsync(CancellationToken ct)
    {
        var ctx = Path.Combine(_dir, "other-srk.ctx");
        var pub = Path.Combine(_dir, "other-srk.pub");
        (await CreateSrkLikePrimaryAsync(_tpm, Enumerable.Repeat((byte)0x5A, 256).ToArray(), ctx, ct)).EnsureSuccess("tpm2_createprimary (other SRK)");
        (await _tpm.ToolAsync("tpm2_readpublic", ["-c", ctx, "-o", pub], cancellationToken: ct)).EnsureSuccess("tpm2_readpublic (other SRK)");
        await FlushAsync(_tpm, ct);
        return await File.ReadAllBytesAsync(pub, ct);
    }

    /// <summary>
    /// Runs the device side of activation on the blob and HMACs <paramref name="data"/> with the imported key.
    /// Returns the HMAC, or the name and output of the first tool that failed.
    /// </summary>
    public async Task<ActivationOutcome> ActivateAndSignAsync(byte[] blob, byte[] data, CancellationToken ct)
    {
        var parts = TpmTestKeys.SplitBlob(blob);
        var run = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(run);
        string F(string name) => Path.Combine(run, name);

        // tpm2_makecredential's file format: magic BADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
        await File.WriteAllBytesAsync(F("cred.blob"), [0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, 1, .. parts[0], .. parts[1]], ct);
        await File.WriteAllBytesAsync(F("dup.priv"), parts[2], ct);
        await File.WriteAllBytesAsync(F("dup.seed"), parts[3], ct);
        await File.WriteAllBytesAsync(F("key.pub"), parts[4], ct);
        await File.WriteAllBytesAsync(F("data.bin"), data, ct);
        try
        {
            (string Tool, string[] Args)[] steps =
            [
                ("tpm2_startauthsession", ["--policy-session", "-S", F("session.ctx")]),
                ("tpm2_policysecret", ["-S", F("session.ctx"), "-c", "e"]),
                ("tpm2_activatecredential", ["-c", "0x81000001", "-C", "0x81010001", "-i", F("cred.blob"), "-o", F("inner.key"), "-P", "session:" + F("session.ctx")]),
                ("tpm2_flushcontext", [F("session.ctx")]),
                ("tpm2_import", ["-C", "0x81000001", "-u", F("key.pub"), "-i", F("dup.priv"), "-s", F("dup.seed"), "-k", F("inner.key"), "-r", F("key.priv")]),
                ("tpm2_load", ["-C", "0x81000001", "-u", F("key.pub"), "-r", F("key.priv"), "-c", F("key.ctx")]),
                ("tpm2_hmac", ["-c", F("key.ctx"), "-o", F("hmac.bin"), F("data.bin")]),
            ];
            foreach (var (tool, args) in steps)
            {
                var result = await _tpm.ToolAsync(tool, args, cancellationToken: ct);
                if (result.ExitCode != 0)
                {
                    return new ActivationOutcome(null, tool, result.StandardError);
                }
            }

            return new ActivationOutcome(await File.ReadAllBytesAsync(F("hmac.bin"), ct), null, null);
        }
        finally
        {
            await FlushAsync(_tpm, ct);
            Directory.Delete(run, recursive: true);
        }
    }

    private static Task<ProcessResult> CreateSrkLikePrimaryAsync(SwtpmInstance tpm, byte[] unique, string ctx, CancellationToken ct)
        => tpm.ToolAsync(
            "tpm2_createprimary",
            ["-C", "o", "-g", "sha256", "-G", "rsa2048:null:aes128cfb", "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt", "-u", "-", "-c", ctx],
            standardInput: unique,
            cancellationToken: ct);

    /// <summary>swtpm has no resource manager and 3 object slots: drop what the tools left loaded.</summary>
    private static async Task FlushAsync(SwtpmInstance tpm, CancellationToken ct)
    {
        (await tpm.ToolAsync("tpm2_flushcontext", ["-t"], cancellationToken: ct)).EnsureSuccess("tpm2_flushcontext -t");
        (await tpm.ToolAsync("tpm2_flushcontext", ["-l"], cancellationToken: ct)).EnsureSuccess("tpm2_flushcontext -l");
    }
}

/// <summary>The HMAC the device computed, or which tool refused and why.</summary>
internal sealed record ActivationOutcome(byte[]? Hmac, string? FailedTool, string? Error);
