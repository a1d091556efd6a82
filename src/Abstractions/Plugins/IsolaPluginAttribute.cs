namespace Isola.Plugins;

/// <summary>
/// Names a plugin assembly's entry type, which must implement <see cref="IIsolaPlugin"/> and have a public
/// parameterless constructor: <c>[assembly: IsolaPlugin(typeof(MyPlugin))]</c>. The host reads this attribute instead
/// of scanning types, so a plugin with a broken dependency fails with a clear message rather than a type-load error.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class IsolaPluginAttribute : Attribute
{
    /// <summary>Names the entry type.</summary>
    public IsolaPluginAttribute(Type entryType)
    {
        EntryType = entryType;
    }

    /// <summary>The entry type.</summary>
    public Type EntryType { get; }
}
