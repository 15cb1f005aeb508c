using System.Globalization;

namespace Provisioning.Samples.FirstBoot;

/// <summary>
/// Tells the registration in plain words, step by step, as the DPS TPM walkthrough does: the request, the 401 challenge
/// with its authorization key, the key activation, the SAS, 202 <c>assigning</c> with the operation id, 200 <c>assigned</c>.
/// </summary>
internal sealed class Narrator(TextWriter output, AttestationKind attestation, DpsTransport transport, string idScope, string registrationId)
{
    private TimeSpan _challengedAt;
    private bool _answeredChallenge;

    // The 202's operation id is in its body, which the HTTP trace does not carry; the first poll's path does, so the 202 is
    // told when that poll is seen (or at the end, without the id).
    private TimeSpan? _acceptedIn;

    /// <summary>Tells a 202 that no poll followed.</summary>
    public void Flush()
    {
        if (_acceptedIn is { } took)
        {
            Step("  ← 202 Accepted: status 'assigning'", took);
            _acceptedIn = null;
        }
    }

    public void Step(string text, TimeSpan? took = null) =>
        output.WriteLine(took is { } t ? $"  {text} ({Ms(t)})" : $"  {text}");

    public void OnEvent(RegistrationEvent e)
    {
        if (e.Retry is { } retry)
        {
            Flush();
            Step($"  … {retry}");
        }
        else if (e.State is { } state)
        {
            OnState(state, e.At);
        }
        else
        {
            OnExchange(e);
        }
    }

    private void OnState(string state, TimeSpan at)
    {
        switch (state)
        {
            case "Registering" when !_answeredChallenge && attestation == AttestationKind.Tpm && transport is DpsTransport.Amqp or DpsTransport.AmqpWebSockets:
                // Over AMQP the challenge is inside the SASL exchange of the connection: the state machine sees no 401.
                Step($"→ open AMQP to {idScope}/{registrationId}: SASL TPM with the EK and SRK; the challenge's key is activated in the TPM and a SAS signed by it answers");
                break;
            case "Registering" when !_answeredChallenge:
                Step(attestation switch
                {
                    AttestationKind.Tpm => $"→ register {idScope}/{registrationId} with the EK and SRK, and no authorization",
                    AttestationKind.Symmetric => $"→ register {idScope}/{registrationId} with a SAS token signed by the device key",
                    _ => $"→ register {idScope}/{registrationId}; the device certificate goes in the TLS handshake",
                });
                break;
            case "Registering":
                Step("→ register again, with a SAS token signed inside the TPM by the activated key");
                break;
            case "Challenged":
                _challengedAt = at;
                break;
            case "Activated":
                _answeredChallenge = true;
                Step("Key activation: ActivateCredential with the EK, Import and Load under the SRK, persisted at 0x81000100", at - _challengedAt);
                break;
            case "Polling" when transport is DpsTransport.Amqp or DpsTransport.AmqpWebSockets:
                // Over AMQP the exchanges are messages on the registration's links, not HTTP requests: the state says it.
                Step("  ← 'assigning' (a message on the AMQP receiver link); waiting the Retry-After, then polling the operation");
                break;
            case "Polling" when transport != DpsTransport.Https:
                // Over MQTT the exchanges are publishes on $dps/registrations/…, not HTTP requests: the state says it.
                Step("  ← 202 'assigning' (on $dps/registrations/res/202/…); waiting the retry-after, then polling the operation");
                break;
            case "Polling":
                // Told with the first poll (OnExchange).
                break;
        }
    }

    private void OnExchange(RegistrationEvent e)
    {
        var path = e.Path ?? string.Empty;
        var operation = path.Contains("/operations/", StringComparison.Ordinal) ? path[(path.LastIndexOf('/') + 1)..] : null;
        if (operation is not null && _acceptedIn is { } accepted)
        {
            Step($"  ← 202 Accepted: status 'assigning', operation id {operation}", accepted);
            Step("  … waited the Retry-After the service asked for, then polled the operation");
            _acceptedIn = null;
        }

        var request = operation is null ? $"{e.Method} …/registrations/{registrationId}/register" : $"{e.Method} …/operations/{operation}";
        if (e.Status == 202 && operation is null)
        {
            Step($"  {request}");
            _acceptedIn = e.Duration;
            return;
        }

        var answer = (e.Status, operation) switch
        {
            (401, null) when attestation == AttestationKind.Tpm && !_answeredChallenge =>
                "401 Unauthorized: the challenge, with an authorization key (authenticationKey) encrypted to the EK",
            (401, _) => "401 Unauthorized: refused",
            (202, _) => "202 Accepted: still 'assigning'",
            (200, _) => "200 OK: the operation has finished",
            // Whether it is retried is told by the client's own retry event (OnRetry), never guessed here.
            (null, _) => "no answer (network error)",
            ({ } other, _) => $"{other.ToString(CultureInfo.InvariantCulture)}: failed",
        };
        Step($"  {request}");
        Step($"  ← {answer}", e.Duration);
    }

    public static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";
}
