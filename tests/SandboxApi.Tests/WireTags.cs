using Google.Protobuf;

namespace Isola.SandboxApi.Tests;

/// <summary>Reads the top-level (field number, wire type, raw value) triples of an encoded message, so tests check
/// field numbers against the upstream .proto facts rather than against our own generated code.</summary>
internal static class WireTags
{
    public static Dictionary<int, List<byte[]>> Fields(IMessage message) => Fields(message.ToByteArray());

    public static Dictionary<int, List<byte[]>> Fields(byte[] encoded)
    {
        var fields = new Dictionary<int, List<byte[]>>();
        var input = new CodedInputStream(encoded);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            byte[] value = WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.LengthDelimited => input.ReadBytes().ToByteArray(),
                WireFormat.WireType.Varint => BitConverter.GetBytes(input.ReadUInt64()),
                _ => throw new InvalidOperationException($"unexpected wire type in field {number}"),
            };
            (fields.TryGetValue(number, out var list) ? list : fields[number] = []).Add(value);
        }

        return fields;
    }

    public static string Text(this Dictionary<int, List<byte[]>> fields, int number) =>
        System.Text.Encoding.UTF8.GetString(fields[number].Single());

    public static ulong Varint(this Dictionary<int, List<byte[]>> fields, int number) =>
        BitConverter.ToUInt64(fields[number].Single());
}
