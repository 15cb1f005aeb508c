namespace Provisioning.Testing;

/// <summary>A DPS-shaped activation blob made independently of our stack, and the plaintext identity key inside it.</summary>
/// <param name="Blob">The six-part <c>authenticationKey</c> (dps-protocol.md §2.3).</param>
/// <param name="IdentityKey">The 32-byte HMAC-SHA256 key the blob carries.</param>
public sealed record DpsBlob(byte[] Blob, byte[] IdentityKey);

/// <summary>
/// Plays the DPS service with tpm2-tools and a second swtpm (the route in shared/docs/tpm-lab.md): imports a random HMAC key
/// into the helper TPM, duplicates it to the device SRK with an inner AES-128 wrapper, and makes a credential carrying the
/// inner key for the device EK bound to Name(SRK).
/// </summary>
public static class DpsBlobBuilder
{
    /// <summary>Builds a blob for the device whose EK and SRK (TPM2B_PUBLIC bytes, size prefix included) are given.</summary>
    public static async Task<DpsBlob> BuildAsync(SwtpmInstance helper, byte[] endorsementKey, byte[] storageRootKey, CancellationToken cancellationToken = default)
    {
        var dir = Directory.CreateTempSubdirectory("dps-blob").FullName;
        try
        {
            var identityKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
            await File.WriteAllBytesAsync(Path.Combine(dir, "hmac.key"), identityKey, cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(dir, "inner.key"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(16), cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(dir, "ek.pub"), endorsementKey, cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(dir, "srk.pub"), storageRootKey, cancellationToken).ConfigureAwait(false);

            // Name(SRK) = 0x000B || SHA-256(TPMT_PUBLIC), computed here from the bytes, independently of our marshalling code.
            var srkName = "000b" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(storageRootKey.AsSpan(2)));

            async Task Run(string tool, params string[] args)
                => (await helper.ToolAsync(tool, args, workingDirectory: dir, cancellationToken: cancellationToken).ConfigureAwait(false)).EnsureSuccess(tool);

            await Run("tpm2_startauthsession", "-S", "trial.ctx");
            await Run("tpm2_policycommandcode", "-S", "trial.ctx", "-L", "dpolicy.dat", "TPM2_CC_Duplicate");
            await Run("tpm2_flushcontext", "trial.ctx");
            await Run("tpm2_createprimary", "-C", "o", "-c", "prim.ctx");
            await Run("tpm2_import", "-C", "prim.ctx", "-G", "hmac", "-i", "hmac.key", "-u", "key.pub", "-r", "key.priv", "-a", "sign|userwithauth", "-L", "dpolicy.dat");
            await Run("tpm2_flushcontext", "-t");
            await Run("tpm2_load", "-C", "prim.ctx", "-u", "key.pub", "-r", "key.priv", "-c", "key.ctx");
            await Run("tpm2_flushcontext", "-t");
            await Run("tpm2_loadexternal", "-C", "o", "-u", "srk.pub", "-c", "newparent.ctx");
            await Run("tpm2_flushcontext", "-t");
            await Run("tpm2_startauthsession", "--policy-session", "-S", "s.ctx");
            await Run("tpm2_policycommandcode", "-S", "s.ctx", "TPM2_CC_Duplicate");
            await Run("tpm2_duplicate", "-C", "newparent.ctx", "-c", "key.ctx", "-G", "aes", "-i", "inner.key", "-p", "session:s.ctx", "-r", "dup.priv", "-s", "dup.seed");
            await Run("tpm2_flushcontext", "s.ctx");
            await Run("tpm2_flushcontext", "-t");
            await Run("tpm2_makecredential", "-T", "none", "-u", "ek.pub", "-s", "inner.key", "-n", srkName, "-o", "cred.out");

            // tpm2_makecredential writes BADCC0DE 00000001 | TPM2B_ID_OBJECT | TPM2B_ENCRYPTED_SECRET.
            var credential = await File.ReadAllBytesAsync(Path.Combine(dir, "cred.out"), cancellationToken).ConfigureAwait(false);
            using var blob = new MemoryStream();
            blob.Write(credential.AsSpan(8));
            blob.Write(await File.ReadAllBytesAsync(Path.Combine(dir, "dup.priv"), cancellationToken).ConfigureAwait(false));
            blob.Write(await File.ReadAllBytesAsync(Path.Combine(dir, "dup.seed"), cancellationToken).ConfigureAwait(false));
            blob.Write(await File.ReadAllBytesAsync(Path.Combine(dir, "key.pub"), cancellationToken).ConfigureAwait(false));
            blob.Write([0, 0]); // encData: empty
            return new DpsBlob(blob.ToArray(), identityKey);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>HMAC-SHA256 computed by <c>openssl dgst -sha256 -mac HMAC</c>, the independent oracle for TPM signatures.</summary>
    public static async Task<byte[]> OpensslHmacAsync(byte[] key, byte[] data, CancellationToken cancellationToken = default)
    {
        var result = await ProcessRunner.RunAsync(
            "openssl",
            ["dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" + Convert.ToHexStringLower(key), "-binary"],
            standardInput: data,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.EnsureSuccess("openssl dgst").StandardOutputBytes;
    }
}
