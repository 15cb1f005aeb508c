using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device;

/// <summary>
/// A certificate key generated in memory, for devices without a TPM (symmetric-key and X.509 attestations). With a path it
/// is stored there as PKCS#8 DER, written atomically and readable by its owner only (mode 0600, folder 0700 when created),
/// so the certificate issued for it survives a reboot.
/// </summary>
public sealed class SoftwareCertificateKey : CertificateSigningKey
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const int MaxKeyFileBytes = 16 * 1024;

    private readonly AsymmetricAlgorithm _key;
    private readonly byte[] _publicKey;

    /// <summary>What <see cref="AlternatePath"/> adds to the key file's name by default.</summary>
    public const string AlternateSuffix = ".alt";

    private SoftwareCertificateKey(AsymmetricAlgorithm key, CertificateKeyAlgorithm algorithm, string? path, string? alternatePath)
    {
        _key = key;
        Algorithm = algorithm;
        Path = path;
        AlternatePath = alternatePath;
        _publicKey = key.ExportSubjectPublicKeyInfo();
    }

    /// <inheritdoc />
    public override CertificateKeyAlgorithm Algorithm { get; }

    /// <inheritdoc />
    public override CertificateKeyLocation Location => CertificateKeyLocation.Software;

    /// <inheritdoc />
    public override ReadOnlyMemory<byte> SubjectPublicKeyInfo => _publicKey;

    /// <summary>The file the key is stored in, or <see langword="null"/> for a key that lives only in memory.</summary>
    public string? Path { get; }

    /// <summary>The other file of the key's pair (<c>{path}.alt</c> for the key <see cref="LoadOrCreateAsync"/> opened at
    /// <c>{path}</c>, and the other way round): where a renewal with a new key writes the successor, so this key's file stays
    /// until the successor's certificate is stored (<see cref="CreateSuccessorAsync"/>, <see cref="RetireAsync"/>).</summary>
    public string? AlternatePath { get; }

    /// <summary>Generates a key that lives only in memory.</summary>
    /// <param name="algorithm">The algorithm; default ECC P-256.</param>
    public static SoftwareCertificateKey Create(CertificateKeyAlgorithm algorithm = CertificateKeyAlgorithm.EccP256)
    {
        Validate(algorithm, nameof(algorithm));
        return new SoftwareCertificateKey(Generate(algorithm), algorithm, path: null, alternatePath: null);
    }

    /// <summary>Reads the key stored at <paramref name="path"/>, or generates one and stores it there (owner-only). When
    /// <paramref name="path"/> does not exist and <c>{path}.alt</c> holds a key of the algorithm (a renewal with a new key moved
    /// it there), that key is opened instead, with the pair swapped.</summary>
    /// <param name="path">The key file, e.g. beside the registration cache.</param>
    /// <param name="algorithm">The algorithm of a new key; a stored key of another algorithm is replaced by a new one.</param>
    /// <param name="cancellationToken">Cancels the file operations.</param>
    /// <exception cref="InvalidDataException">The file exists but does not hold a private key.</exception>
    public static async Task<SoftwareCertificateKey> LoadOrCreateAsync(string path, CertificateKeyAlgorithm algorithm = CertificateKeyAlgorithm.EccP256, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Validate(algorithm, nameof(algorithm));
        string full = System.IO.Path.GetFullPath(path);
        string alternate = full + AlternateSuffix;
        // The configured file, or the alternate one when a renewal's successor was left there alone.
        if (await TryLoadAsync(full, alternate, algorithm, cancellationToken).ConfigureAwait(false) is { } loaded)
        {
            return loaded;
        }

        if (!File.Exists(full) && await TryLoadAsync(alternate, full, algorithm, cancellationToken).ConfigureAwait(false) is { } moved)
        {
            return moved;
        }

        var created = new SoftwareCertificateKey(Generate(algorithm), algorithm, full, alternate);
        try
        {
            await created.SaveAsync(cancellationToken).ConfigureAwait(false);
            return created;
        }
        catch
        {
            created.Dispose();
            throw;
        }
    }

    /// <summary>Generates a new key of the same algorithm (renewal with a new key), stored at <see cref="AlternatePath"/>
    /// (written atomically) before it is returned. This key's file is left in place: it keeps working until the successor's
    /// certificate is stored, then <see cref="RetireAsync"/> deletes it. An in-memory key gets an in-memory successor.</summary>
    /// <param name="cancellationToken">Cancels the write.</param>
    public async Task<SoftwareCertificateKey> CreateSuccessorAsync(CancellationToken cancellationToken)
    {
        var next = new SoftwareCertificateKey(Generate(Algorithm), Algorithm, AlternatePath, Path);
        if (next.Path is not null)
        {
            try
            {
                await next.SaveAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                next.Dispose();
                throw;
            }
        }

        return next;
    }

    /// <summary>Deletes this key's file, if it still holds this key (an in-memory key has nothing to delete).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="IOException">The file could not be deleted.</exception>
    public override async ValueTask RetireAsync(CancellationToken cancellationToken = default)
    {
        if (Path is null)
        {
            return;
        }

        using var stored = await TryLoadAsync(Path, AlternatePath, cancellationToken).ConfigureAwait(false);
        if (stored is not null && stored.SubjectPublicKeyInfo.Span.SequenceEqual(_publicKey))
        {
            File.Delete(Path);
        }
    }

    /// <summary>The key stored at <see cref="AlternatePath"/>, when it holds one of this algorithm, or null.</summary>
    internal override async ValueTask<CertificateSigningKey?> OpenAlternateAsync(CancellationToken cancellationToken)
    {
        if (AlternatePath is null)
        {
            return null;
        }

        try
        {
            return await TryLoadAsync(AlternatePath, Path, Algorithm, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    internal override ValueTask<byte[]> SignHashAsync(ReadOnlyMemory<byte> sha256Digest, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        byte[] signature = _key switch
        {
            ECDsa ecdsa => ecdsa.SignHash(sha256Digest.Span, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            RSA rsa => rsa.SignHash(sha256Digest.ToArray(), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new InvalidOperationException("Unknown key type."),
        };
        return ValueTask.FromResult(signature);
    }

    /// <inheritdoc />
    public override X509Certificate2 AttachTo(X509Certificate2 certificate) => _key switch
    {
        ECDsa ecdsa => certificate.CopyWithPrivateKey(ecdsa),
        RSA rsa => certificate.CopyWithPrivateKey(rsa),
        _ => throw new InvalidOperationException("Unknown key type."),
    };

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _key.Dispose();
        }

        base.Dispose(disposing);
    }

    private static AsymmetricAlgorithm Generate(CertificateKeyAlgorithm algorithm) =>
        algorithm == CertificateKeyAlgorithm.EccP256 ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : RSA.Create(RsaBits(algorithm));

    /// <summary>The key stored at <paramref name="path"/> when it is one of <paramref name="algorithm"/>; null when there is no
    /// file or it holds a key of another algorithm.</summary>
    private static async Task<SoftwareCertificateKey?> TryLoadAsync(string path, string? alternatePath, CertificateKeyAlgorithm algorithm, CancellationToken cancellationToken)
    {
        var loaded = await TryLoadAsync(path, alternatePath, cancellationToken).ConfigureAwait(false);
        if (loaded is not null && loaded.Algorithm != algorithm)
        {
            loaded.Dispose();
            return null;
        }

        return loaded;
    }

    private static async Task<SoftwareCertificateKey?> TryLoadAsync(string path, string? alternatePath, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return null;
            }

            if (info.Length > MaxKeyFileBytes)
            {
                throw new InvalidDataException($"The key file '{path}' is {info.Length} bytes, more than a private key.");
            }

            bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            return FromPkcs8(bytes, path, alternatePath);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static SoftwareCertificateKey FromPkcs8(byte[] pkcs8, string path, string? alternatePath)
    {
        // Try ECDSA, then RSA; a key of neither kind (or a P-256 key on another curve) is refused, never guessed at.
        var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportPkcs8PrivateKey(pkcs8, out int read);
            if (read == pkcs8.Length && ecdsa.KeySize == 256 && ecdsa.ExportParameters(false).Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                return new SoftwareCertificateKey(ecdsa, CertificateKeyAlgorithm.EccP256, path, alternatePath);
            }
        }
        catch (CryptographicException)
        {
        }

        ecdsa.Dispose();
        var rsa = RSA.Create();
        try
        {
            rsa.ImportPkcs8PrivateKey(pkcs8, out int read);
            if (read == pkcs8.Length && rsa.KeySize is 2048 or 3072)
            {
                return new SoftwareCertificateKey(rsa, rsa.KeySize == 2048 ? CertificateKeyAlgorithm.Rsa2048 : CertificateKeyAlgorithm.Rsa3072, path, alternatePath);
            }
        }
        catch (CryptographicException)
        {
        }

        rsa.Dispose();
        throw new InvalidDataException($"The key file '{path}' does not hold a PKCS#8 ECC P-256, RSA-2048 or RSA-3072 private key.");
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        string directory = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            }
        }

        string temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        byte[] pkcs8 = _key.ExportPkcs8PrivateKey();
        try
        {
            FileStream stream = new(temporary, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(pkcs8, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, Path!, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }
}
