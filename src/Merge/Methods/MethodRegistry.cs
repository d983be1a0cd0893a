using System.Reflection;

namespace DotnetMerge.Methods;

/// <summary>Maps <c>merge_method</c> names to implementations. Every public, non-abstract <see cref="IMergeMethod"/>
/// with a parameterless constructor in this assembly is registered, so adding a method is adding one file.</summary>
public static class MethodRegistry
{
    private static readonly Lazy<IReadOnlyDictionary<string, IMergeMethod>> s_methods = new(Discover);

    public static IReadOnlyDictionary<string, IMergeMethod> All => s_methods.Value;

    public static IMergeMethod? Find(string name) => All.TryGetValue(name, out var m) ? m : null;

    private static IReadOnlyDictionary<string, IMergeMethod> Discover()
    {
        var result = new SortedDictionary<string, IMergeMethod>(StringComparer.Ordinal);
        foreach (var type in typeof(MethodRegistry).Assembly.GetTypes())
        {
            if (type.IsAbstract || type.IsInterface || !typeof(IMergeMethod).IsAssignableFrom(type)) continue;
            if (type.GetConstructor(BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes) is null) continue;
            var method = (IMergeMethod)Activator.CreateInstance(type)!;
            if (!result.TryAdd(method.Name, method))
                throw new InvalidOperationException($"two merge methods are named '{method.Name}'");
        }
        return result;
    }
}
