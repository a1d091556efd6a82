namespace Isola;

/// <summary>What <see cref="TypedIdJsonConverter{TId}"/> needs of an id type: its validating parse and its text.</summary>
/// <typeparam name="TSelf">The id type.</typeparam>
public interface ITypedId<TSelf> where TSelf : struct, ITypedId<TSelf>
{
    /// <summary>Parses and validates; throws <see cref="IsolaErrorCode.InvalidArgument"/> naming the value.</summary>
    static abstract TSelf Parse(string? value);

    /// <summary>Parses and validates without throwing.</summary>
    static abstract bool TryParse(string? value, out TSelf id);

    /// <summary>The id as text.</summary>
    string Value { get; }
}
