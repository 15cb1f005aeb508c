namespace Provisioning.Device.Hub.Tests;

/// <summary>The Hub package runs only beside the Provisioning.Device of its own version.</summary>
public sealed class PackageVersionTests
{
    [Fact]
    public void Check_SameVersion_Passes_AndTheBuiltPairMatches()
    {
        Assert.Null(DeviceVersionCheck.Check(new Version(0, 1, 0, 0), new Version(0, 1, 0, 0)));
        DeviceVersionCheck.EnsureMatching();
    }

    [Fact]
    public void Check_AnotherDeviceVersion_IsRefusedNamingBothVersions()
    {
        var error = DeviceVersionCheck.Check(new Version(0, 1, 0, 0), new Version(0, 2, 0, 0));

        Assert.NotNull(error);
        Assert.Contains("needs Provisioning.Device 0.1.0.0, but 0.2.0.0 is loaded", error.Message, StringComparison.Ordinal);
    }
}
