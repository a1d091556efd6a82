using Isola.Images;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Configuration;

/// <summary>
/// The <c>Images</c> configuration section: where the image store lives (<c>Images:Root</c>, default
/// <c>&lt;Isola:Root&gt;/images</c>) and how registries are reached (<c>Images:Registries:HOST:Insecure|Username|Password|Endpoint</c>).
/// </summary>
internal static class ImageSettings
{
    public const string Section = "Images";

    /// <summary>Where the store is: <c>Images:Root</c>, else <c>&lt;Isola:Root&gt;/images</c>.</summary>
    public static string RootOf(IConfiguration configuration, IsolaSettings settings) =>
        configuration.GetSection(Section)["Root"] is { Length: > 0 } configured ? Path.GetFullPath(configured) : Path.Combine(settings.Root, "images");

    public static IImageStore Open(IConfiguration configuration, IsolaSettings settings)
    {
        var section = configuration.GetSection(Section);
        var root = RootOf(configuration, settings);
        var registries = new RegistryOptions();
        foreach (var host in section.GetSection("Registries").GetChildren())
        {
            registries.Registries[host.Key] = new RegistryHostOptions
            {
                Insecure = Flag(host, "Insecure"),
                Username = host["Username"],
                Password = host["Password"],
                Endpoint = host["Endpoint"],
            };
        }

        return ImageStores.Open(root, registries);
    }

    private static bool Flag(IConfigurationSection section, string key) => section[key] switch
    {
        null or "" => false,
        var v when bool.TryParse(v, out var b) => b,
        var v => throw IsolaException.InvalidArgument($"configuration {section.Path}:{key}: '{v}' is not true or false"),
    };
}
