using System.Security.Principal;

namespace Provisioning.Emulator.Amqp;

/// <summary>
/// Who a SASL exchange authenticated (dps-protocol.md §6): the ID scope and registration id of its identity, the SAS it
/// proved (PLAIN password, or the SAS of the TPM's last response) and, for TPM, the EK and SRK of the init and first
/// response. Each request on the connection is authenticated again with them, as each HTTPS request is.
/// </summary>
internal sealed class DpsAmqpPrincipal(string mechanism, string idScope, string registrationId, string sas, byte[]? endorsementKey = null, byte[]? storageRootKey = null)
    : IPrincipal, IIdentity
{
    public string IdScope => idScope;

    public string RegistrationId => registrationId;

    public string Sas => sas;

    public byte[]? EndorsementKey => endorsementKey;

    public byte[]? StorageRootKey => storageRootKey;

    public IIdentity Identity => this;

    public string AuthenticationType => mechanism;

    public bool IsAuthenticated => true;

    public string Name => registrationId;

    public bool IsInRole(string role) => false;
}
