namespace Provisioning.Device;

/// <summary>
/// Keeps the last successful registration so a rebooting device connects to its hub without asking DPS again.
/// </summary>
/// <remarks>Implementations must write atomically: a reader sees the old entry or the new one, never a mix.</remarks>
public interface IRegistrationCache
{
    /// <summary>Reads the entry, or <see langword="null"/> when there is none (or it cannot be read).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<CachedRegistration?> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Replaces the entry.</summary>
    /// <param name="registration">The new entry.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask SaveAsync(CachedRegistration registration, CancellationToken cancellationToken = default);

    /// <summary>Removes the entry, so the next registration asks the service (reprovisioning).</summary>
    /// <param name="cancellationToken">Cancels the removal.</param>
    ValueTask InvalidateAsync(CancellationToken cancellationToken = default);
}
