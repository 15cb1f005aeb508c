namespace Provisioning.Device.Tests.Fakes;

/// <summary>DPS response bodies (dps-protocol.md §1.4–§1.7).</summary>
public static class Dps
{
    public const string IdScope = "0ne00000001";

    public const string Endpoint = "https://dps.test/";

    /// <summary>The §3 test key.</summary>
    public const string Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    public static string Assigning(string operationId = "4.d0a6.op") => $$"""{"operationId":"{{operationId}}","status":"assigning"}""";

    public static string Assigned(string registrationId = "device-01", string? tpmKey = null, string operationId = "4.d0a6.op")
    {
        string tpm = tpmKey is null ? string.Empty : ",\"tpm\":{\"authenticationKey\":\"" + tpmKey + "\"}";
        return "{\"operationId\":\"" + operationId + "\",\"status\":\"assigned\",\"registrationState\":{" +
            "\"registrationId\":\"" + registrationId + "\",\"createdDateTimeUtc\":\"2020-04-10T03:11:13.0276997Z\"," +
            "\"assignedHub\":\"contoso.azure-devices.net\",\"deviceId\":\"" + registrationId + "\",\"status\":\"assigned\"," +
            "\"substatus\":\"initialAssignment\",\"generationId\":\"gen-1\",\"lastUpdatedDateTimeUtc\":\"2020-04-10T03:11:14Z\",\"etag\":\"IjYx\"," +
            "\"payload\":{\"returned\":\"by custom allocation\"}" + tpm + "}}";
    }

    public static string Error(int errorCode, string message = "Something failed.", string trackingId = "8ad0-track") =>
        $$"""{"errorCode":{{errorCode}},"trackingId":"{{trackingId}}","message":"{{message}}","timestampUtc":"2020-04-10T05:24:22.47Z"}""";

    public static string Challenge(string authenticationKey) =>
        $$"""{"message":"Authentication required.","authenticationKey":"{{authenticationKey}}","keyName":"registration"}""";
}
