namespace Provisioning.Emulator.Faults;

/// <summary>The emulator endpoints a fault can target.</summary>
[Flags]
public enum DpsEndpoint
{
    /// <summary>No endpoint.</summary>
    None = 0,

    /// <summary><c>PUT /{idScope}/registrations/{id}/register</c>.</summary>
    Register = 1,

    /// <summary><c>GET /{idScope}/registrations/{id}/operations/{operationId}</c>.</summary>
    OperationStatus = 2,

    /// <summary><c>POST /{idScope}/registrations/{id}</c>.</summary>
    StatusLookup = 4,

    /// <summary>The service API (enrollments, enrollment groups, registrations).</summary>
    Service = 8,

    /// <summary>Every endpoint.</summary>
    All = Register | OperationStatus | StatusLookup | Service,
}

/// <summary>The transports a fault can target.</summary>
[Flags]
public enum DpsTransport
{
    /// <summary>No transport.</summary>
    None = 0,

    /// <summary>The HTTPS device and service APIs.</summary>
    Https = 1,

    /// <summary>The MQTT endpoint, over TCP and WebSockets (register and operation status only).</summary>
    Mqtt = 2,

    /// <summary>The AMQP endpoint, over TCP and WebSockets (register and operation status only).</summary>
    Amqp = 4,

    /// <summary>Every transport.</summary>
    All = Https | Mqtt | Amqp,
}

/// <summary>What an injected fault does.</summary>
public enum FaultKind
{
    /// <summary>429 with a DPS error body and <c>Retry-After</c> (over MQTT: <c>retry-after</c> in the response topic).</summary>
    TooManyRequests,

    /// <summary>500 with a DPS error body.</summary>
    InternalServerError,

    /// <summary>503 with a DPS error body and <c>Retry-After</c>.</summary>
    ServiceUnavailable,

    /// <summary>The connection is dropped without an answer (over MQTT and AMQP: the device's connection is closed).</summary>
    DropConnection,

    /// <summary>The request is held for <see cref="FaultRule.Delay"/>, then served normally.</summary>
    Delay,

    /// <summary>
    /// For <see cref="DpsEndpoint.Register"/>: the registration is accepted at once (202 <c>assigning</c>) but stays
    /// <c>assigning</c> for <see cref="FaultRule.Delay"/> more than <see cref="DpsEmulatorOptions.AssignmentDelay"/>: status
    /// polls answer 202 with <c>Retry-After</c> until then. With <see cref="FaultRule.MaxFaults"/> or
    /// <see cref="FaultRule.Probability"/> it makes single registrations slow.
    /// </summary>
    SlowAssignment,
}

/// <summary>One fault to inject: which endpoint, what happens, and when (after N requests and/or with a seeded probability).</summary>
public sealed class FaultRule
{
    /// <summary>The endpoints the rule applies to.</summary>
    public DpsEndpoint Endpoint { get; init; } = DpsEndpoint.All;

    /// <summary>The transports the rule applies to; all by default.</summary>
    public DpsTransport Transport { get; init; } = DpsTransport.All;

    /// <summary>What happens.</summary>
    public FaultKind Kind { get; init; }

    /// <summary>How many matching requests pass untouched before the rule starts firing.</summary>
    public int AfterRequests { get; init; }

    /// <summary>The probability (0–1) that an eligible request is faulted; 1 fires every time.</summary>
    public double Probability { get; init; } = 1.0;

    /// <summary>The seed of the rule's random source, so runs repeat.</summary>
    public int Seed { get; init; }

    /// <summary>How many times the rule fires at most; null is unlimited.</summary>
    public int? MaxFaults { get; init; }

    /// <summary>The <c>Retry-After</c> of 429 and 503 answers.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a <see cref="FaultKind.Delay"/> holds the request.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);
}
