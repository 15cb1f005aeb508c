using System.Globalization;
using System.Text;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Sasl;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Amqp;

/// <summary>
/// The SASL decisions of the DPS AMQP endpoint, made by the same <see cref="DeviceAuthenticator"/> as HTTPS and MQTT:
/// PLAIN (the SAS as password, symmetric key) and TPM (the 401 challenge of HTTPS, carried in SASL frames).
/// </summary>
/// <remarks>dps-protocol.md §6. A failure is told to the device as the SASL outcome <c>auth</c>, with the reason logged.</remarks>
internal sealed class DpsAmqpSasl(DeviceService service)
{
    /// <summary>PLAIN: authcid <c>{idScope}/registrations/{registrationId}</c>, password the DPS SAS token.</summary>
    public DpsAmqpPrincipal Plain(string authenticationIdentity, string password)
    {
        var (idScope, registrationId) = ParseIdentity(authenticationIdentity);
        var outcome = service.Authenticator.Authenticate(new DeviceRequest(idScope, registrationId, null, password, null, null), null, mayChallenge: false);
        if (outcome.Identity is not { } identity)
        {
            throw Refused(outcome);
        }

        identity.Dispose();
        return new DpsAmqpPrincipal(SaslPlainHandler.Name, idScope, registrationId, password);
    }

    /// <summary>TPM, after the SRK: the activation blob for this EK and SRK (the key it wraps is kept for the SAS check).</summary>
    public byte[] Challenge(string idScope, string registrationId, byte[] endorsementKey, byte[] storageRootKey)
    {
        Validate(idScope, registrationId);
        var outcome = service.Authenticator.Authenticate(new DeviceRequest(idScope, registrationId, null, "", null, null), TpmBody(endorsementKey, storageRootKey), mayChallenge: true);
        if (outcome.Challenge?.AuthenticationKey is { } blob)
        {
            return Convert.FromBase64String(blob);
        }

        outcome.Identity?.Dispose();
        throw outcome.Identity is null ? Refused(outcome) : new UnauthorizedAccessException("the registration is not a TPM enrollment");
    }

    /// <summary>TPM, the last response: the SAS must be signed by the key the challenge wrapped.</summary>
    public DpsAmqpPrincipal CompleteTpm(string idScope, string registrationId, byte[] endorsementKey, byte[] storageRootKey, string sas)
    {
        var outcome = service.Authenticator.Authenticate(new DeviceRequest(idScope, registrationId, null, sas, null, null), TpmBody(endorsementKey, storageRootKey), mayChallenge: false);
        if (outcome.Identity is not { } identity)
        {
            throw Refused(outcome);
        }

        identity.Dispose();
        return new DpsAmqpPrincipal(SaslTpmServerHandler.MechanismName, idScope, registrationId, sas, endorsementKey, storageRootKey);
    }

    /// <summary>The body a TPM registration over HTTPS would carry, for requests whose EK and SRK came in SASL.</summary>
    public static DeviceRegistrationRequest TpmBody(byte[] endorsementKey, byte[] storageRootKey) => new()
    {
        Tpm = new TpmAttestationBody { EndorsementKey = Convert.ToBase64String(endorsementKey), StorageRootKey = Convert.ToBase64String(storageRootKey) },
    };

    /// <summary>Splits <c>{idScope}/registrations/{registrationId}</c>.</summary>
    public (string IdScope, string RegistrationId) ParseIdentity(string identity)
    {
        var parts = identity.Split('/');
        if (parts.Length != 3 || parts[1] != "registrations")
        {
            throw new UnauthorizedAccessException("the SASL identity is not {idScope}/registrations/{registrationId}");
        }

        Validate(parts[0], parts[2]);
        return (parts[0], parts[2]);
    }

    private void Validate(string idScope, string registrationId)
    {
        if (!string.Equals(idScope, service.IdScope, StringComparison.OrdinalIgnoreCase))
        {
            throw new UnauthorizedAccessException("the ID scope is unknown");
        }

        if (!DeviceService.IsValidRegistrationId(registrationId))
        {
            throw new UnauthorizedAccessException("the registration id is not valid");
        }
    }

    private static UnauthorizedAccessException Refused(AuthOutcome outcome) =>
        new($"{outcome.ErrorCode.ToString(CultureInfo.InvariantCulture)}: {outcome.Message}");
}

/// <summary>The service side of SASL PLAIN: authenticates at once and answers <c>ok</c> or <c>auth</c> (never <c>sys</c>).</summary>
internal sealed class SaslPlainServerHandler : SaslHandler
{
    private readonly DpsAmqpSasl sasl;
    private readonly Action<string> onRefused;

    public SaslPlainServerHandler(DpsAmqpSasl sasl, Action<string> onRefused)
    {
        this.sasl = sasl;
        this.onRefused = onRefused;
        Mechanism = SaslPlainHandler.Name;
    }

    public override SaslHandler Clone() => new SaslPlainServerHandler(sasl, onRefused);

    public override void OnChallenge(SaslChallenge challenge) => throw new AmqpException(AmqpErrorCode.NotAllowed, "A SASL server receives no challenge.");

    public override void OnResponse(SaslResponse response) => throw new AmqpException(AmqpErrorCode.NotAllowed, "PLAIN has no SASL response.");

    protected override void OnStart(SaslInit init, bool isClient)
    {
        try
        {
            var message = Encoding.UTF8.GetString(init.InitialResponse.AsSpan());
            var items = message.Split('\0');
            if (items.Length != 3)
            {
                throw new UnauthorizedAccessException("the PLAIN message is not authzid NUL authcid NUL password");
            }

            Principal = sasl.Plain(items[1], items[2]);
            Negotiator.CompleteNegotiation(SaslCode.Ok, null);
        }
        catch (UnauthorizedAccessException ex)
        {
            onRefused(ex.Message);
            Negotiator.CompleteNegotiation(SaslCode.Auth, ex);
        }
    }
}
