using System.Globalization;
using System.Text;

using Provisioning.Device.Hub;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Fuzzing.Targets;

/// <summary>The IoT Hub client: the topics the hub publishes to it (property bags included) and the twin documents.</summary>
internal static class HubTargets
{
    public static IEnumerable<FuzzTarget> All()
    {
        // Input: a topic as MQTTnet hands it over (UTF-8). The receive loop drops a topic that throws one of these (logged), so
        // they are the topic layer's refusals; anything else would escape into MQTTnet's receive loop.
        yield return new FuzzTarget("hub-topics", "hub", Topic, ex => ex is FormatException or ArgumentException);

        // Input: first byte picks the reader (twin document or desired patch), the rest is the JSON body.
        yield return new FuzzTarget("hub-twin", "hub", TwinDocument, ex => ex is HubException);
    }

    private static void Topic(byte[] input)
    {
        var topic = Encoding.UTF8.GetString(input);
        const string deviceBound = "devices/fuzz-device/messages/devicebound/";

        // The same routing as DeviceClient.OnMessageReceivedAsync, prefix by prefix; any topic also goes through every reader
        // that only needs a '?', so the mutations of one prefix exercise all of them.
        if (topic.StartsWith(HubTopics.TwinResponsePrefix, StringComparison.Ordinal))
        {
            if (HubTopics.TryParseTwinStatus(topic, out var status) && status < 0)
            {
                throw new FuzzInvariantException("A twin response status parsed negative.");
            }
        }

        if (topic.StartsWith(HubTopics.MethodRequestPrefix, StringComparison.Ordinal) && HubTopics.ParseMethodRequest(topic) is var (name, rid))
        {
            if (name.Length == 0 || rid is null)
            {
                throw new FuzzInvariantException("A method request parsed without a name or request id.");
            }
        }

        _ = long.TryParse(HubTopics.QueryValue(topic, "$rid"), NumberStyles.None, CultureInfo.InvariantCulture, out _);
        _ = long.TryParse(HubTopics.QueryValue(topic, "$version"), NumberStyles.None, CultureInfo.InvariantCulture, out _);
        var bag = topic.StartsWith(deviceBound, StringComparison.Ordinal) ? topic.AsSpan(deviceBound.Length) : topic.AsSpan();
        foreach (var (key, value) in PropertyBag.Parse(bag))
        {
            if (key is null || value is null)
            {
                throw new FuzzInvariantException("The property bag produced a null key or value.");
            }
        }
    }

    private static void TwinDocument(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var body = input.AsSpan(1);
        if ((input[0] & 1) == 0)
        {
            var twin = DeviceClient.ReadTwin(body);

            // What an application does next with the twin it was handed: read and re-serialize it.
            _ = twin.Desired.ToJsonString();
            _ = twin.Reported.ToJsonString();
        }
        else
        {
            var (patch, _) = DeviceClient.ReadDesiredPatch(body);
            foreach (var (_, value) in patch)
            {
                _ = value?.GetValueKind();
            }
        }
    }
}
