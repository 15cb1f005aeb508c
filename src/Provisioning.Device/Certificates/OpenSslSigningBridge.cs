using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace Provisioning.Device;

/// <summary>
/// Lets OpenSSL's TLS sign with a key opened through a provider in another library context.
/// </summary>
/// <remarks>
/// <para><see cref="SafeEvpPKeyHandle.OpenKeyFromProvider"/> loads the provider into a library context of its own, while .NET's
/// TLS (libssl) runs in OpenSSL's default one. For the CertificateVerify signature, OpenSSL 3.0 fetches ECDSA from the default
/// context first (the default provider), then "exports" the key to it; tpm2-openssl 1.1 exports the public part and reports
/// success, so the default provider signs with no private key ("missing private key", surfacing as "SSL routines::EVP lib").
/// The provider is never asked. Loading the provider into the default context instead would let it serve digests, ciphers,
/// key generation and randomness to the whole process (OpenSSL picks among providers by load order): TLS transcripts hashed in
/// TPM sequence objects, which a TPM without a resource manager answers with TPM_RC_OBJECT_MEMORY (0x902).</para>
/// <para>So libssl is given a key it cannot misroute: a P-256 key with the public point and an ECDSA method whose signing
/// callback hands the digest to the provider key (its own library context, where the TPM signs). Only that one signature
/// crosses; hashing, key exchange and record encryption stay in the default provider.</para>
/// </remarks>
[SupportedOSPlatform("linux")]
internal static unsafe partial class OpenSslSigningBridge
{
    private const string LibCrypto = "libcrypto.so.3";
    private const int NidP256 = 415; // NID_X9_62_prime256v1

    // EC_KEY* -> the provider key that signs for it; removed by the method's finish callback when OpenSSL frees the EC_KEY.
    private static readonly ConcurrentDictionary<nint, ECDsa> Signers = new();
    private static readonly Lock Gate = new();
    private static nint s_method; // one EC_KEY_METHOD for the process, never freed (EC_KEYs refer to it)

    /// <summary>An EVP_PKEY for TLS whose ECDSA signatures are made by <paramref name="signer"/>; takes ownership of it.</summary>
    /// <param name="signer">The provider key (ECC P-256).</param>
    public static SafeEvpPKeyHandle Wrap(ECDsa signer)
    {
        ArgumentNullException.ThrowIfNull(signer);
        byte[] x, y;
        nint method, key;
        try
        {
            ECParameters pub = signer.ExportParameters(includePrivateParameters: false);
            if (pub.Q.X is not { Length: 32 } px || pub.Q.Y is not { Length: 32 } py)
            {
                throw new CryptographicException("The provider key is not an ECC P-256 key.");
            }

            (x, y) = (px, py);
            method = Method();
            key = EC_KEY_new_by_curve_name(NidP256);
            if (key == 0)
            {
                throw Failure("EC_KEY_new_by_curve_name");
            }
        }
        catch
        {
            signer.Dispose(); // owned from the call on, whatever fails
            throw;
        }

        nint pkey = 0;
        bool registered = false;
        try
        {
            if (EC_KEY_set_method(key, method) != 1)
            {
                throw Failure("EC_KEY_set_method");
            }

            nint bx = 0, by = 0;
            try
            {
                fixed (byte* px = x)
                fixed (byte* py = y)
                {
                    bx = BN_bin2bn(px, x.Length, 0);
                    by = BN_bin2bn(py, y.Length, 0);
                }

                if (bx == 0 || by == 0 || EC_KEY_set_public_key_affine_coordinates(key, bx, by) != 1)
                {
                    throw Failure("EC_KEY_set_public_key_affine_coordinates");
                }
            }
            finally
            {
                BN_free(bx);
                BN_free(by);
            }

            Signers[key] = signer;
            registered = true;
            pkey = EVP_PKEY_new();
            if (pkey == 0 || EVP_PKEY_set1_EC_KEY(pkey, key) != 1)
            {
                throw Failure("EVP_PKEY_set1_EC_KEY");
            }

            var handle = new SafeEvpPKeyHandle(pkey, ownsHandle: true);
            pkey = 0;
            return handle;
        }
        catch
        {
            if (pkey != 0)
            {
                EVP_PKEY_free(pkey);
            }

            if (!registered)
            {
                signer.Dispose();
            }

            throw;
        }
        finally
        {
            EC_KEY_free(key); // the EVP_PKEY holds its own reference; the last free runs Finish, which drops the signer
        }
    }

    private static nint Method()
    {
        lock (Gate)
        {
            if (s_method != 0)
            {
                return s_method;
            }

            nint method = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
            if (method == 0)
            {
                throw Failure("EC_KEY_METHOD_new");
            }

            nint sign, setup, signSig;
            EC_KEY_METHOD_get_sign(method, &sign, &setup, &signSig);
            EC_KEY_METHOD_set_sign(method, (nint)(delegate* unmanaged<int, byte*, int, byte*, uint*, nint, nint, nint, int>)&Sign, setup, signSig);
            nint init, finish, copy, setGroup, setPrivate, setPublic;
            EC_KEY_METHOD_get_init(method, &init, &finish, &copy, &setGroup, &setPrivate, &setPublic);
            EC_KEY_METHOD_set_init(method, init, (nint)(delegate* unmanaged<nint, void>)&Finish, copy, setGroup, setPrivate, setPublic);
            s_method = method;
            return method;
        }
    }

    // int (*sign)(int type, const unsigned char *dgst, int dlen, unsigned char *sig, unsigned int *siglen,
    //             const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey): the DER signature, at most ECDSA_size (72 for P-256).
    [UnmanagedCallersOnly]
    private static int Sign(int type, byte* digest, int digestLength, byte* signature, uint* signatureLength, nint kinv, nint r, nint eckey)
    {
        try
        {
            if (digest == null || digestLength <= 0 || digestLength > 64 || signature == null || signatureLength == null
                || !Signers.TryGetValue(eckey, out ECDsa? signer))
            {
                return 0;
            }

            Span<byte> der = stackalloc byte[72];
            if (!signer.TrySignHash(new ReadOnlySpan<byte>(digest, digestLength), der, DSASignatureFormat.Rfc3279DerSequence, out int written))
            {
                return 0;
            }

            der[..written].CopyTo(new Span<byte>(signature, written));
            *signatureLength = (uint)written;
            return 1;
        }
#pragma warning disable CA1031 // an exception must not cross into OpenSSL: the failure becomes OpenSSL's error (the handshake fails)
        catch (Exception)
#pragma warning restore CA1031
        {
            return 0;
        }
    }

    [UnmanagedCallersOnly]
    private static void Finish(nint eckey)
    {
        try
        {
            if (Signers.TryRemove(eckey, out ECDsa? signer))
            {
                signer.Dispose();
            }
        }
#pragma warning disable CA1031 // an exception must not cross into OpenSSL (it would end the process); the key is gone either way
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static CryptographicException Failure(string function) =>
        new($"OpenSSL's {function} failed while preparing the TPM key for TLS.");

    [LibraryImport(LibCrypto)]
    private static partial nint EC_KEY_OpenSSL();

    [LibraryImport(LibCrypto)]
    private static partial nint EC_KEY_METHOD_new(nint method);

    [LibraryImport(LibCrypto)]
    private static partial void EC_KEY_METHOD_get_sign(nint method, nint* sign, nint* signSetup, nint* signSig);

    [LibraryImport(LibCrypto)]
    private static partial void EC_KEY_METHOD_set_sign(nint method, nint sign, nint signSetup, nint signSig);

    [LibraryImport(LibCrypto)]
    private static partial void EC_KEY_METHOD_get_init(nint method, nint* init, nint* finish, nint* copy, nint* setGroup, nint* setPrivate, nint* setPublic);

    [LibraryImport(LibCrypto)]
    private static partial void EC_KEY_METHOD_set_init(nint method, nint init, nint finish, nint copy, nint setGroup, nint setPrivate, nint setPublic);

    [LibraryImport(LibCrypto)]
    private static partial nint EC_KEY_new_by_curve_name(int nid);

    [LibraryImport(LibCrypto)]
    private static partial int EC_KEY_set_method(nint key, nint method);

    [LibraryImport(LibCrypto)]
    private static partial int EC_KEY_set_public_key_affine_coordinates(nint key, nint x, nint y);

    [LibraryImport(LibCrypto)]
    private static partial void EC_KEY_free(nint key);

    [LibraryImport(LibCrypto)]
    private static partial nint BN_bin2bn(byte* bytes, int length, nint result);

    [LibraryImport(LibCrypto)]
    private static partial void BN_free(nint bignum);

    [LibraryImport(LibCrypto)]
    private static partial nint EVP_PKEY_new();

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_set1_EC_KEY(nint pkey, nint key);

    [LibraryImport(LibCrypto)]
    private static partial void EVP_PKEY_free(nint pkey);
}
