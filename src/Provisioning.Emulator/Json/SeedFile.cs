namespace Provisioning.Emulator.Json;

/// <summary>
/// The <c>--seed</c> file: linked hubs plus enrollments and groups in the service API shapes, e.g.
/// <c>{"hubs":[{"hostName":"hub1.localhost","region":"westeurope"}],"enrollments":[…],"enrollmentGroups":[…]}</c>.
/// </summary>
internal sealed class SeedFile
{
    public List<EmulatorInfoHub>? Hubs { get; set; }

    public List<IndividualEnrollment>? Enrollments { get; set; }

    public List<EnrollmentGroup>? EnrollmentGroups { get; set; }
}
