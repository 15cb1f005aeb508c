using Provisioning.Fuzzing.Targets;

namespace Provisioning.Fuzzing;

/// <summary>Every fuzz target, by name.</summary>
public static class FuzzTargets
{
    /// <summary>All targets, in run order.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        .. TpmTargets.All(),
        .. ClientTargets.All(),
        .. HubTargets.All(),
        .. EmulatorTargets.All(),
    ];

    /// <summary>The names, for theories and usage text.</summary>
    public static IEnumerable<string> Names => All.Select(t => t.Name);

    /// <summary>The target called <paramref name="name"/>.</summary>
    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException($"No fuzz target '{name}'. Targets: {string.Join(", ", Names)}.", nameof(name));
}
