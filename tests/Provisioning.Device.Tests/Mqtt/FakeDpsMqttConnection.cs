using System.Buffers;
using System.Text;

using Provisioning.Device.Transport.Mqtt;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>An in-memory <see cref="IDpsMqttConnection"/>: records every verb and lets a script answer publishes.</summary>
internal sealed class FakeDpsMqttConnection : IDpsMqttConnection
{
    private Action<string, ReadOnlySequence<byte>>? _messageReceived;
    private Action<Exception?>? _connectionLost;

    public List<string> Calls { get; } = [];

    /// <summary>The CONNACK return codes to answer, in order; 0 once empty.</summary>
    public Queue<int> ConnectCodes { get; } = new();

    public List<(string UserName, string? Password)> Credentials { get; } = [];

    public bool IsConnected { get; private set; }

    /// <summary>Answers a publish (topic, body) before its PUBACK; default none.</summary>
    public Action<FakeDpsMqttConnection, string, string>? OnPublish { get; set; }

    public bool GrantSubscription { get; set; } = true;

    public Exception? DisconnectFailure { get; set; }

    public void SetHandlers(Action<string, ReadOnlySequence<byte>> messageReceived, Action<Exception?> connectionLost)
    {
        _messageReceived = messageReceived;
        _connectionLost = connectionLost;
    }

    public ValueTask<int> ConnectAsync(string clientId, string userName, string? password, CancellationToken cancellationToken)
    {
        Calls.Add($"CONNECT {clientId}");
        Credentials.Add((userName, password));
        int code = ConnectCodes.TryDequeue(out int next) ? next : 0;
        IsConnected = code == 0;
        return ValueTask.FromResult(code);
    }

    public ValueTask<bool> SubscribeAsync(string topicFilter, CancellationToken cancellationToken)
    {
        Calls.Add($"SUBSCRIBE {topicFilter}");
        return ValueTask.FromResult(GrantSubscription);
    }

    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        Calls.Add($"PUBLISH {topic}");
        OnPublish?.Invoke(this, topic, Encoding.UTF8.GetString(payload.Span));
        return default;
    }

    public ValueTask DisconnectAsync(CancellationToken cancellationToken)
    {
        Calls.Add("DISCONNECT");
        IsConnected = false;
        return DisconnectFailure is null ? default : ValueTask.FromException(DisconnectFailure);
    }

    public void Dispose() => Calls.Add("DISPOSE");

    public void Deliver(string topic, string body) => Deliver(topic, Encoding.UTF8.GetBytes(body));

    public void Deliver(string topic, byte[] body) => _messageReceived!(topic, new ReadOnlySequence<byte>(body));

    public void Lose(Exception? cause)
    {
        IsConnected = false;
        _connectionLost!(cause);
    }
}
