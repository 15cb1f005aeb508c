using System.Reflection;

namespace Provisioning.Device.Tpm.Tests;

/// <summary>The public surface of Provisioning.Device.Tpm is deliberate: a change to it shows up here and in review.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesTheApprovedListing()
    {
        var approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt")).ReplaceLineEndings("\n").Trim();
        var actual = Listing(typeof(TpmIdentity).Assembly);
        if (actual != approved)
        {
            // Review the difference, then copy the received file over tests/Provisioning.Device.Tpm.Tests/PublicApi.approved.txt.
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.received.txt"), actual + "\n");
        }

        Assert.Equal(approved, actual);
    }

    internal static string Listing(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            lines.Add($"{Kind(type)} {type.FullName}{(type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) ? " : " + b.Name : string.Empty)}");
            var members = type.GetMembers(all)
                .Where(IsVisible)
                .Select(m => "    " + (m is FieldInfo { IsLiteral: true } f && type.IsEnum ? $"{f.Name} = {f.GetRawConstantValue()}" : m.ToString()))
                .OrderBy(s => s, StringComparer.Ordinal);
            lines.AddRange(members);
        }

        return string.Join("\n", lines);
    }

    private static string Kind(Type type)
        => type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsInterface ? "interface" : type.IsAbstract && type.IsSealed ? "static class" : type.IsAbstract ? "abstract class" : type.IsSealed ? "sealed class" : "class";

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase m => (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly) && !(m.IsSpecialName && (m.Name.StartsWith("get_", StringComparison.Ordinal) || m.Name.StartsWith("set_", StringComparison.Ordinal))),
        FieldInfo f => (f.IsPublic || f.IsFamily) && !f.IsSpecialName,
        PropertyInfo p => p.GetAccessors(nonPublic: true).Any(a => a.IsPublic || a.IsFamily),
        Type t => t.IsNestedPublic,
        _ => false,
    };
}
