using System.Buffers.Binary;
using System.Diagnostics;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Provisioning.Device.Tpm;

/// <summary>
/// The device's TPM identity for DPS: ensures the EK and SRK, reports them and the registration ID, activates the identity
/// key DPS sends, and signs with it.
/// </summary>
/// <remarks>
/// dps-protocol.md §2. Constructing an identity does not talk to the TPM; the first call does. Operations are serialised and
/// every transient object, session and sequence they create is flushed on every path (swtpm holds only three transient
/// objects). The EK and SRK public areas are cached after the first read; they are public keys, not secrets.
/// </remarks>
public sealed partial class TpmIdentity : IAsyncDisposable
{
    internal static readonly ActivitySource ActivitySource = new(TpmTelemetry.ActivitySourceName);

    private readonly TpmCommands _tpm;
    private readonly TpmTransport _transport;
    private readonly bool _ownsTransport;
    private readonly TpmIdentityOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[]? _endorsementKey;
    private byte[]? _storageRootKey;

    /// <summary>Creates an identity over a transport.</summary>
    /// <param name="transport">How to reach the TPM.</param>
    /// <param name="options">Handles and hierarchy passwords; defaults when null.</param>
    /// <param name="ownsTransport">Whether disposing the identity disposes <paramref name="transport"/>.</param>
    public TpmIdentity(TpmTransport transport, TpmIdentityOptions? options = null, bool ownsTransport = true)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _options = options ?? new TpmIdentityOptions();
        _options.Validate();
        _transport = transport;
        _ownsTransport = ownsTransport;
        _logger = _options.Logger ?? NullLogger.Instance;
        _tpm = new TpmCommands(transport, _options.TimeProvider) { StartOnDemand = true };
    }

    /// <summary>Opens an identity over a transport spec (see <see cref="TpmTransport.Open"/>).</summary>
    public static TpmIdentity Open(string transportSpec, TpmIdentityOptions? options = null)
        => new(TpmTransport.Open(transportSpec, options?.Transport), options, ownsTransport: true);

    /// <summary>Makes sure the EK and SRK are persisted: reuses keys that match the templates, creates and persists absent ones.</summary>
    /// <remarks>dps-protocol.md §2.1. A key at the EK or SRK handle that does not match its template (an ECC EK, say) is never
    /// evicted: that is reported as a <see cref="TpmException"/> naming what was found, since it may belong to someone else. A
    /// hierarchy that refuses its password is named in the error, with the option that fixes it.</remarks>
    /// <exception cref="TpmException">The TPM failed, or a persisted key differs from the template.</exception>
    public async ValueTask EnsureKeysAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureKeysCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The EK as TPM2B_PUBLIC bytes, size prefix included (dps-protocol.md §2.2); creates it if absent.</summary>
    public async ValueTask<byte[]> GetEndorsementKeyAsync(CancellationToken cancellationToken = default)
    {
        await EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        return (byte[])_endorsementKey!.Clone();
    }

    /// <summary>The SRK as TPM2B_PUBLIC bytes, size prefix included (dps-protocol.md §2.2); creates it if absent.</summary>
    public async ValueTask<byte[]> GetStorageRootKeyAsync(CancellationToken cancellationToken = default)
    {
        await EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        return (byte[])_storageRootKey!.Clone();
    }

    /// <summary>The registration ID derived from the EK: lowercase base32 of SHA-256(EK TPM2B_PUBLIC), 52 characters (dps-protocol.md §2.5).</summary>
    public async ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken = default)
    {
        await EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        return RegistrationId.FromEndorsementKey(_endorsementKey);
    }

    /// <summary>The EK certificate (DER) from NV index 0x01C00002, or null when the TPM has none.</summary>
    public async ValueTask<byte[]?> GetEndorsementKeyCertificateAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            TpmNvPublic nv;
            try
            {
                nv = await _tpm.NvReadPublicAsync(TpmHandles.EndorsementKeyCertificate, cancellationToken).ConfigureAwait(false);
            }
            catch (TpmException e) when (IsAbsent(e))
            {
                return null;
            }

            var (authHandle, auth) = (nv.Attributes & TpmNvPublic.AuthReadAttribute) != 0
                ? (nv.Index, ReadOnlyMemory<byte>.Empty)
                : (TpmHandles.Owner, _options.OwnerAuth);
            try
            {
                return await _tpm.NvReadAsync(authHandle, auth, nv.Index, nv.DataSize, cancellationToken).ConfigureAwait(false);
            }
            catch (TpmException e) when (authHandle == TpmHandles.Owner && IsBadAuth(e))
            {
                throw HierarchyRefused(e, TpmHandles.Owner);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsTransport)
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask EnsureKeysCoreAsync(CancellationToken cancellationToken)
    {
        if (_endorsementKey is not null && _storageRootKey is not null)
        {
            return;
        }

        using var activity = ActivitySource.StartActivity("TpmIdentity.EnsureKeys");
        _endorsementKey ??= await EnsurePrimaryAsync(
            "endorsement key", _options.EndorsementKeyHandle, TpmHandles.Endorsement, _options.EndorsementAuth, TpmTemplates.EndorsementKey, cancellationToken).ConfigureAwait(false);
        _storageRootKey ??= await EnsurePrimaryAsync(
            "storage root key", _options.StorageRootKeyHandle, TpmHandles.Owner, _options.OwnerAuth, TpmTemplates.StorageRootKey, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<byte[]> EnsurePrimaryAsync(
        string what, uint handle, uint hierarchy, ReadOnlyMemory<byte> hierarchyAuth, TpmPublic template, CancellationToken cancellationToken)
    {
        try
        {
            // Read without parsing first: an object of a type we do not use (an ECC EK, say) is foreign, not malformed.
            var (existing, _) = await _tpm.ReadPublicRawAsync(handle, cancellationToken).ConfigureAwait(false);
            if (BinaryPrimitives.ReadUInt16BigEndian(existing.AsSpan(2)) != (ushort)template.Type || !TpmPublic.FromTpm2B(existing).MatchesTemplate(template))
            {
                throw Foreign(what, handle, existing);
            }

            return existing;
        }
        catch (TpmException e) when (IsAbsent(e))
        {
            LogCreating(_logger, what, handle, null);
        }

        uint transient;
        byte[] created;
        try
        {
            (transient, created) = await _tpm.CreatePrimaryAsync(hierarchy, hierarchyAuth, template, cancellationToken).ConfigureAwait(false);
        }
        catch (TpmException e) when (IsBadAuth(e))
        {
            throw HierarchyRefused(e, hierarchy);
        }

        try
        {
            await _tpm.EvictControlAsync(TpmHandles.Owner, _options.OwnerAuth, transient, handle, cancellationToken).ConfigureAwait(false);
        }
        catch (TpmException e) when (IsBadAuth(e))
        {
            throw HierarchyRefused(e, TpmHandles.Owner);
        }
        finally
        {
            await FlushAsync(transient).ConfigureAwait(false);
        }

        return created;
    }

    /// <summary>The error for an object at one of our handles that is not the key its template makes: it is never evicted.</summary>
    private static TpmException Foreign(string what, uint handle, byte[] found)
    {
        var (standard, option, example) = handle == TpmHandles.EndorsementKey || what.StartsWith("endorsement", StringComparison.Ordinal)
            ? ("RSA-2048 endorsement key (the TCG default EK template)", nameof(TpmIdentityOptions.EndorsementKeyHandle), "0x81010002")
            : ("RSA-2048 storage root key (the SRK template)", nameof(TpmIdentityOptions.StorageRootKeyHandle), "0x81000002");
        return new TpmException(
            $"The key persisted at 0x{handle:X8} is not the standard {what}: it is {PersistedObject.Describe(found)}. DPS TPM attestation needs the "
            + $"{standard}. It was left in place. Choose another free persistent handle with TpmIdentityOptions.{option} (e.g. {example}; "
            + "tpm2_getcap handles-persistent lists the used ones), where the key will be created, or evict this object if it is yours "
            + $"(tpm2_evictcontrol -C o -c 0x{handle:X8}) or clear the TPM.");
    }

    /// <summary>Whether an error is a refused password (TPM_RC_BAD_AUTH, or TPM_RC_AUTH_FAIL from a DA-protected entity).</summary>
    private static bool IsBadAuth(TpmException e)
        => e.ResponseCode != 0 && e.BaseResponseCode is TpmResponseCode.BadAuth or TpmResponseCode.AuthFail;

    /// <summary>The error for a hierarchy that refused its password: which hierarchy, and the option and flag that fix it.
    /// The password itself never appears.</summary>
    private TpmException HierarchyRefused(TpmException e, uint hierarchy)
    {
        var endorsement = hierarchy == TpmHandles.Endorsement;
        var (name, flag, option, tool) = endorsement
            ? ("endorsement", "--endorsement-auth", nameof(TpmIdentityOptions.EndorsementAuth), "e")
            : ("owner", "--owner-auth", nameof(TpmIdentityOptions.OwnerAuth), "o");
        var given = (endorsement ? _options.EndorsementAuth : _options.OwnerAuth).IsEmpty
            ? $"No {name} password was given, and the {name} hierarchy has one (set with tpm2_changeauth -c {tool})"
            : $"The {name} password given is not the {name} hierarchy's";
        return new TpmException(
            e.ResponseCode,
            $"The {name} hierarchy refused the authorization ({e.Message}). {given}: give it with {flag} (TpmIdentityOptions.{option}).",
            e);
    }

    /// <summary>Flushes a handle on a cleanup path: never with the caller's (possibly cancelled) token, never masking the first error.</summary>
    private async ValueTask FlushAsync(uint handle)
    {
        try
        {
            await _tpm.FlushContextAsync(handle, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TpmException or TimeoutException or TpmFormatException)
        {
            LogFlushFailed(_logger, handle, e.Message, null);
        }
    }

    /// <summary>Whether an error means "nothing at that handle" (TPM_RC_HANDLE, or TPM_RC_REFERENCE_H0/H1 for the first or
    /// second handle of a command).</summary>
    private static bool IsAbsent(TpmException e)
        => e.ResponseCode != 0 && (e.BaseResponseCode == TpmResponseCode.Handle || (e.ResponseCode & 0xFFFF) is 0x910 or 0x911);

    private static readonly Action<ILogger, string, uint, Exception?> LogCreating =
        LoggerMessage.Define<string, uint>(LogLevel.Information, new EventId(1, "CreatingKey"), "Creating the {What} and persisting it at 0x{Handle:X8}");

    private static readonly Action<ILogger, uint, string, Exception?> LogFlushFailed =
        LoggerMessage.Define<uint, string>(LogLevel.Warning, new EventId(3, "FlushFailed"), "Flushing TPM handle 0x{Handle:X8} failed: {Reason}");
}
