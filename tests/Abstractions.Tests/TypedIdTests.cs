using System.Text.Json;

namespace Isola.Abstractions.Tests;

public sealed class TypedIdTests
{
    private sealed record Holder(SandboxId Sandbox, ContainerId Container, ExecId? Exec);

    [Theory]
    [InlineData("a")]
    [InlineData("web-1")]
    [InlineData("A_b.c-D")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    public void Valid_text_parses_to_an_id_that_gives_the_same_text_back(string text)
    {
        Assert.Equal(text, SandboxId.Parse(text).Value);
        Assert.Equal(text, ContainerId.Parse(text).ToString());
        Assert.Equal(text, $"{ExecId.Parse(text)}");
        Assert.True(SandboxId.TryParse(text, out var id));
        Assert.Equal(text, id.Value);
        SandboxId converted = text;
        Assert.Equal(SandboxId.Parse(text), converted);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("-rf")]
    [InlineData(".hidden")]
    [InlineData("with space")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234")]
    public void Bad_text_is_refused_with_a_message_naming_it_and_the_kind_of_id(string? text)
    {
        var sandbox = Assert.Throws<IsolaException>(() => SandboxId.Parse(text));
        Assert.Equal(IsolaErrorCode.InvalidArgument, sandbox.Code);
        Assert.Equal(
            $"invalid sandbox id '{text}': use 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'",
            sandbox.Message);
        Assert.Contains($"invalid container id '{text}'", Assert.Throws<IsolaException>(() => ContainerId.Parse(text)).Message);
        Assert.Contains($"invalid exec id '{text}'", Assert.Throws<IsolaException>(() => ExecId.Parse(text)).Message);
        Assert.False(ContainerId.TryParse(text, out var id));
        Assert.Equal(default, id);
    }

    [Fact]
    public void The_implicit_conversion_from_text_validates()
    {
        var e = Assert.Throws<IsolaException>(() =>
        {
            ContainerId id = "../etc";
            return id;
        });
        Assert.Contains("invalid container id '../etc'", e.Message);
    }

    [Fact]
    public void Ids_compare_by_their_text_ordinally()
    {
        Assert.Equal(SandboxId.Parse("web"), SandboxId.Parse("web"));
        Assert.NotEqual(SandboxId.Parse("web"), SandboxId.Parse("Web"));
        Assert.Equal(SandboxId.Parse("web").GetHashCode(), SandboxId.Parse("web").GetHashCode());
    }

    [Fact]
    public void Default_is_not_an_id_and_has_empty_text()
    {
        Assert.Equal("", default(SandboxId).Value);
        Assert.NotEqual(default, SandboxId.Parse("a"));
    }

    [Fact]
    public void New_ids_are_valid_and_distinct()
    {
        var a = ContainerId.New();
        var b = ContainerId.New();
        Assert.NotEqual(a, b);
        Assert.Equal(a, ContainerId.Parse(a.Value));
    }

    [Fact]
    public void Json_writes_ids_as_plain_strings_and_reads_them_back()
    {
        var holder = new Holder("sb-1", "c.1", "e_1");
        var json = JsonSerializer.Serialize(holder);
        Assert.Equal("""{"Sandbox":"sb-1","Container":"c.1","Exec":"e_1"}""", json);
        Assert.Equal(holder, JsonSerializer.Deserialize<Holder>(json));

        var withoutExec = holder with { Exec = null };
        var nullJson = JsonSerializer.Serialize(withoutExec);
        Assert.Equal("""{"Sandbox":"sb-1","Container":"c.1","Exec":null}""", nullJson);
        Assert.Equal(withoutExec, JsonSerializer.Deserialize<Holder>(nullJson));
    }

    [Fact]
    public void Json_with_a_bad_id_fails_to_read_naming_the_value_and_the_property()
    {
        var e = Assert.Throws<JsonException>(() =>
            JsonSerializer.Deserialize<Holder>("""{"Sandbox":"../x","Container":"c","Exec":null}"""));
        Assert.Contains("invalid sandbox id '../x'", e.Message);
        Assert.Contains("Sandbox", e.Path);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Holder>("""{"Sandbox":7,"Container":"c","Exec":null}"""));
    }

    [Fact]
    public void Ids_work_as_json_dictionary_keys()
    {
        var map = new Dictionary<ContainerId, int> { ["c1"] = 1 };
        var json = JsonSerializer.Serialize(map);
        Assert.Equal("""{"c1":1}""", json);
        Assert.Equal(1, JsonSerializer.Deserialize<Dictionary<ContainerId, int>>(json)![ContainerId.Parse("c1")]);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Dictionary<ContainerId, int>>("""{"../c":1}"""));
    }
}
