namespace Provisioning.Device;

/// <summary>The explicit states of one registration (issue 5): attest → (TPM: challenged → activated) → registering →
/// polling → assigned | disabled | failed.</summary>
internal enum RegistrationState
{
    Attesting,
    Challenged,
    Activated,
    Registering,
    Polling,
    Assigned,
    Disabled,
    Failed,
    Cached,
}
