using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Isola.Abstractions.Tests")]
