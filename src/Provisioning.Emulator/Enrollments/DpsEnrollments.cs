using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Enrollments;

/// <summary>
/// Creates and removes enrollments directly, in-process: the convenient path for tests and samples (the REST service
/// API does the same over HTTPS).
/// </summary>
public sealed class DpsEnrollments
{
    private static readonly EnrollmentSettings Defaults = new();
    private readonly EmulatorStore _store;
    private readonly TimeProvider _time;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _caCertificates;

    internal DpsEnrollments(EmulatorStore store, TimeProvider time, System.Collections.Concurrent.ConcurrentDictionary<string, string> caCertificates)
    {
        _store = store;
        _time = time;
        _caCertificates = caCertificates;
    }

    /// <summary>
    /// Registers a verified CA certificate under <paramref name="name"/>, so service-API groups can name it in
    /// <c>x509.caReferences</c> (kept in memory for the emulator's lifetime).
    /// </summary>
    public void RegisterCaCertificate(string name, X509Certificate2 certificate)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(certificate);
        _caCertificates[name] = Convert.ToBase64String(certificate.RawData);
    }

    /// <summary>Adds (or replaces) a symmetric-key individual enrollment; returns its keys.</summary>
    public async Task<SymmetricKeyPair> AddSymmetricKeyAsync(string registrationId, EnrollmentSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registrationId);
        CheckId(registrationId, nameof(registrationId));
        var keys = Keys(settings ?? Defaults);
        await PutAsync(EnrollmentFactory.Individual(registrationId, SymmetricAttestation(keys), settings ?? Defaults, Now), cancellationToken).ConfigureAwait(false);
        return keys;
    }

    /// <summary>Adds (or replaces) a symmetric-key enrollment group; returns the group keys (see <see cref="SymmetricKeyPair.DeriveDeviceKey"/>).</summary>
    public async Task<SymmetricKeyPair> AddSymmetricKeyGroupAsync(string enrollmentGroupId, EnrollmentSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(enrollmentGroupId);
        CheckId(enrollmentGroupId, nameof(enrollmentGroupId));
        var keys = Keys(settings ?? Defaults);
        await PutGroupAsync(EnrollmentFactory.Group(enrollmentGroupId, SymmetricAttestation(keys), settings ?? Defaults, Now), cancellationToken).ConfigureAwait(false);
        return keys;
    }

    /// <summary>Adds (or replaces) a TPM individual enrollment for the EK (TPM2B_PUBLIC bytes, size prefix included).</summary>
    public Task AddTpmAsync(string registrationId, ReadOnlyMemory<byte> endorsementKey, EnrollmentSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registrationId);
        CheckId(registrationId, nameof(registrationId));
        if (endorsementKey.IsEmpty)
        {
            throw new ArgumentException("The endorsement key is empty.", nameof(endorsementKey));
        }

        var attestation = new AttestationMechanism
        {
            Type = "tpm",
            Tpm = new TpmAttestationBody { EndorsementKey = Convert.ToBase64String(endorsementKey.Span) },
        };
        return PutAsync(EnrollmentFactory.Individual(registrationId, attestation, settings ?? Defaults, Now), cancellationToken);
    }

    /// <summary>Adds (or replaces) an X.509 individual enrollment for the device certificate (CN = registration id).</summary>
    public Task AddX509Async(string registrationId, X509Certificate2 deviceCertificate, EnrollmentSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registrationId);
        CheckId(registrationId, nameof(registrationId));
        ArgumentNullException.ThrowIfNull(deviceCertificate);
        var attestation = new AttestationMechanism
        {
            Type = "x509",
            X509 = new X509Attestation { ClientCertificates = new X509Certificates { Primary = Certificate(deviceCertificate) } },
        };
        return PutAsync(EnrollmentFactory.Individual(registrationId, attestation, settings ?? Defaults, Now), cancellationToken);
    }

    /// <summary>Adds (or replaces) an X.509 enrollment group whose devices chain to <paramref name="signingCertificate"/> (a root or intermediate).</summary>
    public Task AddX509GroupAsync(string enrollmentGroupId, X509Certificate2 signingCertificate, EnrollmentSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(enrollmentGroupId);
        CheckId(enrollmentGroupId, nameof(enrollmentGroupId));
        ArgumentNullException.ThrowIfNull(signingCertificate);
        var attestation = new AttestationMechanism
        {
            Type = "x509",
            X509 = new X509Attestation { SigningCertificates = new X509Certificates { Primary = Certificate(signingCertificate) } },
        };
        return PutGroupAsync(EnrollmentFactory.Group(enrollmentGroupId, attestation, settings ?? Defaults, Now), cancellationToken);
    }

    /// <summary>Removes an individual enrollment; returns whether it existed.</summary>
    public async Task<bool> RemoveAsync(string registrationId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registrationId);
        CheckId(registrationId, nameof(registrationId));
        if (!_store.Enrollments.ContainsKey(registrationId))
        {
            return false;
        }

        var batch = new StoreBatch();
        batch.DeleteEnrollment(registrationId);
        await _store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Removes an enrollment group; returns whether it existed.</summary>
    public async Task<bool> RemoveGroupAsync(string enrollmentGroupId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(enrollmentGroupId);
        CheckId(enrollmentGroupId, nameof(enrollmentGroupId));
        if (!_store.Groups.ContainsKey(enrollmentGroupId))
        {
            return false;
        }

        var batch = new StoreBatch();
        batch.DeleteGroup(enrollmentGroupId);
        await _store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private static SymmetricKeyPair Keys(EnrollmentSettings settings)
    {
        foreach (var key in new[] { settings.PrimaryKey, settings.SecondaryKey })
        {
            if (key is not null && Device.DeviceAuthenticator.Decode(key) is not { Length: >= 16 and <= 64 })
            {
                throw new ArgumentException("A symmetric key is base64 of 16 to 64 bytes.", nameof(settings));
            }
        }

        return new SymmetricKeyPair(settings.PrimaryKey ?? EnrollmentFactory.NewKey(), settings.SecondaryKey ?? EnrollmentFactory.NewKey());
    }

    private static AttestationMechanism SymmetricAttestation(SymmetricKeyPair keys) => new()
    {
        Type = "symmetricKey",
        SymmetricKey = new SymmetricKeyAttestation { PrimaryKey = keys.PrimaryKey, SecondaryKey = keys.SecondaryKey },
    };

    private static X509CertificateWithInfo Certificate(X509Certificate2 certificate) => new()
    {
        Certificate = Convert.ToBase64String(certificate.RawData),
        Info = Protocol.CertificateText.Describe(certificate),
    };

    private Task PutAsync(IndividualEnrollment enrollment, CancellationToken cancellationToken)
    {
        var batch = new StoreBatch();
        batch.PutEnrollment(enrollment);
        return _store.CommitAsync(batch, cancellationToken);
    }

    private Task PutGroupAsync(EnrollmentGroup group, CancellationToken cancellationToken)
    {
        var batch = new StoreBatch();
        batch.PutGroup(group);
        return _store.CommitAsync(batch, cancellationToken);
    }

    /// <summary>Enrollment ids follow the service's rule (<see cref="Protocol.RegistrationIds.Rule"/>).</summary>
    private static void CheckId(string id, string parameter)
    {
        if (!Protocol.RegistrationIds.IsValid(id))
        {
            throw new ArgumentException($"'{id}' is not a valid id: an id is {Protocol.RegistrationIds.Rule}.", parameter);
        }
    }
}
