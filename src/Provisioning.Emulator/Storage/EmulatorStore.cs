using System.Collections.Concurrent;
using System.Text.Json;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Storage;

/// <summary>
/// Enrollments, groups, registrations and the linked hubs' device registries: read from memory, written through to
/// SQLite (when a data folder is set) before a change becomes visible, so nothing acknowledged is lost on a kill.
/// </summary>
internal sealed class EmulatorStore : IHubDeviceRegistry, IAsyncDisposable
{
    internal const string EnrollmentKind = "enrollment";
    internal const string GroupKind = "group";
    internal const string RegistrationKind = "registration";
    internal const string HubDeviceKind = "hubdevice";
    internal const string MetaKind = "meta";

    private readonly SqlitePersistence? _persistence;
    private readonly ConcurrentDictionary<string, string> _meta = new(StringComparer.Ordinal);

    private EmulatorStore(SqlitePersistence? persistence)
    {
        _persistence = persistence;
    }

    /// <summary>Individual enrollments by registration id (ids are case-insensitive, as in DPS).</summary>
    public ConcurrentDictionary<string, IndividualEnrollment> Enrollments { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Enrollment groups by id.</summary>
    public ConcurrentDictionary<string, EnrollmentGroup> Groups { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registrations by registration id.</summary>
    public ConcurrentDictionary<string, RegistrationRecord> Registrations { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Hub devices by <c>hub/deviceId</c>.</summary>
    public ConcurrentDictionary<string, HubDevice> HubDevices { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether the store is backed by a file.</summary>
    public bool IsPersistent => _persistence is not null;

    /// <summary>Opens the store: <paramref name="databasePath"/> null keeps everything in memory.</summary>
    public static async Task<EmulatorStore> OpenAsync(string? databasePath, CancellationToken cancellationToken)
    {
        if (databasePath is null)
        {
            return new EmulatorStore(null);
        }

        var (persistence, rows) = await SqlitePersistence.OpenAsync(databasePath, cancellationToken).ConfigureAwait(false);
        var store = new EmulatorStore(persistence);
        try
        {
            foreach (var row in rows)
            {
                store.Load(row);
            }
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"The emulator database '{databasePath}' holds a row that cannot be read: {ex.Message}", ex);
        }

        return store;
    }

    /// <summary>Puts one stored row in memory; a row whose JSON is not its kind's throws <see cref="JsonException"/>.</summary>
    private void Load(StoredRow row)
    {
        var json = row.Json!;
        var ctx = EmulatorJsonContext.Default;
        switch (row.Kind)
        {
            case EnrollmentKind: Enrollments[row.Id] = Required(JsonSerializer.Deserialize(json, ctx.IndividualEnrollment), row); break;
            case GroupKind: Groups[row.Id] = Required(JsonSerializer.Deserialize(json, ctx.EnrollmentGroup), row); break;
            case RegistrationKind: Registrations[row.Id] = Required(JsonSerializer.Deserialize(json, ctx.RegistrationRecord), row); break;
            case HubDeviceKind: HubDevices[row.Id] = FromStored(Required(JsonSerializer.Deserialize(json, ctx.StoredHubDevice), row)); break;
            case MetaKind: _meta[row.Id] = System.Text.Encoding.UTF8.GetString(json); break;
            default: break;
        }
    }

    private static T Required<T>(T? value, StoredRow row) where T : class =>
        value ?? throw new JsonException($"The {row.Kind} row '{row.Id}' is JSON null.");

    /// <summary>Returns the stored setting, or creates, persists and returns it.</summary>
    public async Task<string> GetOrAddMetaAsync(string name, Func<string> create, CancellationToken cancellationToken)
    {
        if (_meta.TryGetValue(name, out var value))
        {
            return value;
        }

        value = create();
        if (_persistence is not null)
        {
            await _persistence.WriteAsync([new StoredRow(MetaKind, name, System.Text.Encoding.UTF8.GetBytes(value))], cancellationToken).ConfigureAwait(false);
        }

        _meta[name] = value;
        return value;
    }

    /// <summary>Makes the batch durable, then visible.</summary>
    public async Task CommitAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        if (_persistence is not null && batch.Rows.Count > 0)
        {
            await _persistence.WriteAsync(batch.Rows, cancellationToken).ConfigureAwait(false);
        }

        foreach (var apply in batch.Applies)
        {
            apply(this);
        }
    }

    /// <inheritdoc />
    public ValueTask<HubDevice?> FindAsync(string hubHostName, string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hubHostName);
        ArgumentNullException.ThrowIfNull(deviceId);
        return ValueTask.FromResult(HubDevices.TryGetValue(HubKey(hubHostName, deviceId), out var device) ? device : null);
    }

    /// <inheritdoc />
    public async ValueTask UpsertAsync(HubDevice device, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        var batch = new StoreBatch();
        batch.PutHubDevice(device);
        await CommitAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string hubHostName, string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hubHostName);
        ArgumentNullException.ThrowIfNull(deviceId);
        if (!HubDevices.ContainsKey(HubKey(hubHostName, deviceId)))
        {
            return false;
        }

        var batch = new StoreBatch();
        batch.RemoveHubDevice(hubHostName, deviceId);
        await CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Flushes and closes the file.</summary>
    public ValueTask DisposeAsync() => _persistence?.DisposeAsync() ?? ValueTask.CompletedTask;

    internal static string HubKey(string hubHostName, string deviceId) => hubHostName + "/" + deviceId;

    internal static StoredHubDevice ToStored(HubDevice d) => new()
    {
        HubHostName = d.HubHostName,
        DeviceId = d.DeviceId,
        Kind = d.Kind.ToString(),
        PrimaryKey = d.PrimaryKey,
        SecondaryKey = d.SecondaryKey,
        Thumbprint = d.Thumbprint,
        Enabled = d.Enabled,
        InitialTwin = d.InitialTwin,
    };

    private static HubDevice FromStored(StoredHubDevice d) => new(
        d.HubHostName, d.DeviceId, Enum.Parse<HubCredentialKind>(d.Kind), d.PrimaryKey, d.SecondaryKey, d.Thumbprint, d.Enabled, d.InitialTwin);
}
