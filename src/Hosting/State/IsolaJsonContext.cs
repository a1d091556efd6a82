using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isola.Hosting.State;

/// <summary>
/// Serialisation code generated at build time for what every command reads and writes: the state record, and the
/// infos <c>-o json</c> prints. <see cref="IsolaJson.Options"/> resolves these types here first. Why: reflection-based
/// metadata built each record's converters at run time (with Reflection.Emit accessors), ~400 JIT-compiled methods
/// of every short-lived <c>isola</c> command. The options here are <see cref="IsolaJson.Options"/>'s, so the JSON is
/// the same.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(SandboxRecord))]
[JsonSerializable(typeof(SandboxInfo))]
[JsonSerializable(typeof(ContainerInfo))]
internal sealed partial class IsolaJsonContext : JsonSerializerContext;
