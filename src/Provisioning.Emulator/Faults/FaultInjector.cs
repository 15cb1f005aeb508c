namespace Provisioning.Emulator.Faults;

/// <summary>The emulator's active fault rules; change them at any time while it runs.</summary>
public sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly List<ActiveRule> _rules = [];

    internal FaultInjector(IEnumerable<FaultRule> initial)
    {
        foreach (var rule in initial)
        {
            Add(rule);
        }
    }

    /// <summary>Adds a rule; its request counter starts at zero now.</summary>
    public void Add(FaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule.Probability is < 0 or > 1 || double.IsNaN(rule.Probability))
        {
            throw new ArgumentException("Probability must be between 0 and 1.", nameof(rule));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(rule.AfterRequests);
        lock (_gate)
        {
            _rules.Add(new ActiveRule(rule));
        }
    }

    /// <summary>Removes every rule.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _rules.Clear();
        }
    }

    /// <summary>The rules in order, each with an id (for <see cref="Remove"/>) and its counters: what the portal lists.</summary>
    internal IReadOnlyList<(long Id, FaultRule Rule, int Seen, int Fired)> Snapshot()
    {
        lock (_gate)
        {
            return [.. _rules.Select(r => (r.Id, r.Rule, r.Seen, r.Fired))];
        }
    }

    /// <summary>Removes the rule with this <see cref="Snapshot"/> id; returns whether it was there.</summary>
    internal bool Remove(long id)
    {
        lock (_gate)
        {
            return _rules.RemoveAll(r => r.Id == id) > 0;
        }
    }

    /// <summary>Counts the request against every matching rule and returns the first one that fires, or null.</summary>
    internal FaultRule? Next(DpsEndpoint endpoint, DpsTransport transport)
    {
        lock (_gate)
        {
            FaultRule? fired = null;
            foreach (var active in _rules)
            {
                if ((active.Rule.Endpoint & endpoint) == 0 || (active.Rule.Transport & transport) == 0)
                {
                    continue;
                }

                active.Seen++;
                if (fired is null && active.Seen > active.Rule.AfterRequests
                    && (active.Rule.MaxFaults is not { } max || active.Fired < max)
                    && (active.Rule.Probability >= 1.0 || active.Random.NextDouble() < active.Rule.Probability))
                {
                    active.Fired++;
                    fired = active.Rule;
                }
            }

            return fired;
        }
    }

    private static long s_nextId;

    private sealed class ActiveRule(FaultRule rule)
    {
        public long Id { get; } = Interlocked.Increment(ref s_nextId);

        public FaultRule Rule { get; } = rule;

        // A seeded generator, used only for fault decisions (never for secrets), so runs repeat.
#pragma warning disable CA5394
        public Random Random { get; } = new(rule.Seed);
#pragma warning restore CA5394

        public int Seen { get; set; }

        public int Fired { get; set; }
    }
}
