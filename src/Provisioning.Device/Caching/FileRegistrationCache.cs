using System.Text.Json;

using Provisioning.Device.Serialization;

namespace Provisioning.Device;

/// <summary>
/// A registration cache in one JSON file, written atomically (a temporary file in the same folder, flushed to disk,
/// then renamed over the old one) and readable by its owner only (mode 0600, folder 0700 when created).
/// </summary>
public sealed class FileRegistrationCache : IRegistrationCache
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates the cache over a file path; nothing is touched until the first call.</summary>
    /// <param name="path">The cache file, e.g. <c>/var/lib/contoso/registration.json</c>.</param>
    public FileRegistrationCache(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The cache file.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">The file exists but is not a cache entry.</exception>
    public async ValueTask<CachedRegistration?> LoadAsync(CancellationToken cancellationToken = default)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(Path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        return Parse(bytes, Path);
    }

    /// <summary>Reads a cache entry from the file's bytes; anything but a complete entry is <see cref="InvalidDataException"/>.</summary>
    /// <param name="bytes">The file's contents.</param>
    /// <param name="path">The file, for messages.</param>
    internal static CachedRegistration Parse(ReadOnlySpan<byte> bytes, string path)
    {
        CachedRegistrationWire? wire;
        try
        {
            wire = JsonSerializer.Deserialize(bytes, DpsJsonContext.Default.CachedRegistrationWire);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The registration cache '{path}' is not valid JSON.", ex);
        }

        if (wire is not { IdScope: { Length: > 0 } idScope, RegistrationId: { Length: > 0 } registrationId, AssignedHub: { Length: > 0 } hub, DeviceId: { Length: > 0 } deviceId, RegisteredAt: { } at })
        {
            throw new InvalidDataException($"The registration cache '{path}' lacks a required field.");
        }

        // The entry is used without asking DPS (the hub becomes a TLS target, the device id part of the MQTT identity): it is
        // held to the rules a DPS answer is held to (IdentityRules), so a tampered file cannot aim the device elsewhere.
        if (IdentityRules.CheckHubHostName(hub) is { } hubProblem)
        {
            throw new InvalidDataException($"The registration cache '{path}' is invalid: assignedHub breaks the rule ({hubProblem}).");
        }

        if (IdentityRules.CheckDeviceId(deviceId) is { } idProblem)
        {
            throw new InvalidDataException($"The registration cache '{path}' is invalid: deviceId breaks the rule ({idProblem}).");
        }

        return new CachedRegistration
        {
            IdScope = idScope,
            RegistrationId = registrationId,
            AssignedHub = hub,
            DeviceId = deviceId,
            RegisteredAt = at,
            JsonPayload = wire.JsonPayload,
            IssuedCertificateChain = wire.IssuedCertificateChain is { Count: > 0 and <= IssuedCertificateValidator.MaxChainLength } chain
                ? chain
                : wire.IssuedCertificateChain is { Count: > 0 }
                    ? throw new InvalidDataException($"The registration cache '{path}' holds an over-long certificate chain.")
                    : [],
        };
    }

    /// <inheritdoc/>
    public async ValueTask SaveAsync(CachedRegistration registration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var wire = new CachedRegistrationWire
        {
            IdScope = registration.IdScope,
            RegistrationId = registration.RegistrationId,
            AssignedHub = registration.AssignedHub,
            DeviceId = registration.DeviceId,
            RegisteredAt = registration.RegisteredAt,
            JsonPayload = registration.JsonPayload,
            IssuedCertificateChain = registration.IssuedCertificateChain.Count > 0 ? [.. registration.IssuedCertificateChain] : null,
        };
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(wire, DpsJsonContext.Default.CachedRegistrationWire);

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

        // A unique name per writer, in the same folder so the rename stays on one file system and is atomic.
        string temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        try
        {
            FileStream stream = new(temporary, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, Path, overwrite: true);
        }
        catch
        {
            // Leave no half-written temporary behind; the old entry is untouched.
            File.Delete(temporary);
            throw;
        }
    }

    /// <inheritdoc/>
    public ValueTask InvalidateAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        File.Delete(Path);
        return default;
    }
}
