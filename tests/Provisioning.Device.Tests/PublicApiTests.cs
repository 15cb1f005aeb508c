using System.Reflection;

namespace Provisioning.Device.Tests;

/// <summary>The public surface is deliberate: any change shows up as a diff of PublicApi.approved.txt in review.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesTheApprovedListing()
    {
        string folder = AppContext.BaseDirectory; // the listing is copied beside the tests; CI builds map source paths
        string approvedPath = Path.Combine(folder, "PublicApi.approved.txt");
        string actual = string.Join('\n', Listing()) + "\n";
        string approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).ReplaceLineEndings("\n") : string.Empty;

        if (actual != approved)
        {
            File.WriteAllText(Path.Combine(folder, "PublicApi.received.txt"), actual);
        }

        Assert.Equal(approved, actual);
    }

    private static IEnumerable<string> Listing()
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (Type type in typeof(ProvisioningDeviceClient).Assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            yield return $"{Kind(type)} {type.FullName}{(type.BaseType is { } b && b != typeof(object) && b != typeof(Enum) ? " : " + b.Name : string.Empty)}";
            IEnumerable<string> members = type.GetMembers(Declared)
                .Where(IsVisible)
                .Select(m => "    " + Describe(m))
                .OrderBy(s => s, StringComparer.Ordinal);
            foreach (string member in members)
            {
                yield return member;
            }
        }
    }

    private static string Kind(Type type) =>
        type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : type.IsAbstract ? "abstract class" : type.IsSealed ? "sealed class" : "class";

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase m => (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly) && !m.IsSpecialName || m is ConstructorInfo { IsPublic: true } or ConstructorInfo { IsFamily: true },
        PropertyInfo p => p.GetMethod is { } g && (g.IsPublic || g.IsFamily),
        FieldInfo f => f.IsPublic && !f.IsSpecialName,
        _ => false,
    };

    private static string Describe(MemberInfo member) => member switch
    {
        PropertyInfo p => $"{p.PropertyType.Name} {p.Name} {{ get;{(p.SetMethod is { IsPublic: true } s ? (s.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.Name == "IsExternalInit") ? " init;" : " set;") : string.Empty)} }}",
        FieldInfo f => f.IsLiteral ? $"const {f.FieldType.Name} {f.Name}" : $"{f.FieldType.Name} {f.Name}",
        MethodBase m => $"{(m.IsAbstract ? "abstract " : m.IsVirtual && !m.IsFinal ? "virtual " : string.Empty)}{(m.IsStatic ? "static " : string.Empty)}{(m as MethodInfo)?.ReturnType.Name ?? string.Empty} {m.Name}({string.Join(", ", m.GetParameters().Select(p => $"{p.ParameterType.Name} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : string.Empty)}"))})".Replace("  ", " ", StringComparison.Ordinal),
        _ => member.ToString()!,
    };
}
