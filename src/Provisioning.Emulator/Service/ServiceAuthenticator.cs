using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Service;

/// <summary>
/// Service API authentication: a SAS token for <c>skn=provisioningserviceowner</c> whose audience is the service host
/// (with or without the port), signed with the service key.
/// </summary>
internal sealed class ServiceAuthenticator(byte[] serviceKey, DpsEmulatorOptions options)
{
    /// <summary>The accepted audiences (host with port, host alone); set once the port is known.</summary>
    public IReadOnlyList<string> Audiences { get; set; } = [];

    /// <summary>The policy (key) name of the service connection string.</summary>
    public const string KeyName = "provisioningserviceowner";

    /// <summary>Returns 0 when the request is authorized, else the error code with <paramref name="message"/>.</summary>
    public int Authenticate(HttpRequest request, out string message)
    {
        message = "";
        var token = SasToken.TryParse(request.Headers.Authorization.ToString());
        if (token is null)
        {
            message = "A service SAS token (skn=provisioningserviceowner) is required.";
            return DpsErrorCodes.Unauthorized;
        }

        var now = options.TimeProvider.GetUtcNow();
        var last = SasCheck.WrongAudience;
        foreach (var audience in Audiences)
        {
            last = token.Check(serviceKey, audience, KeyName, now, options.ClockSkew);
            if (last != SasCheck.WrongAudience)
            {
                break;
            }
        }

        switch (last)
        {
            case SasCheck.Valid:
                return 0;
            case SasCheck.Expired:
                message = "The SAS token has expired.";
                return DpsErrorCodes.ExpiredToken;
            case SasCheck.WrongAudience:
                message = "The SAS token is not for this service (audience or key name).";
                return DpsErrorCodes.Unauthorized;
            default:
                message = "The SAS token's signature does not verify.";
                return DpsErrorCodes.Unauthorized;
        }
    }
}
