using Isola.Hosting.Sandboxes;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>Every pair of states, checked against the state machine of DESIGN.md written out independently here.</summary>
public sealed class TransitionTableTests
{
    private static readonly HashSet<(SandboxState, SandboxState)> Expected =
    [
        (SandboxState.Creating, SandboxState.Created), (SandboxState.Creating, SandboxState.Removing),
        (SandboxState.Created, SandboxState.Starting), (SandboxState.Created, SandboxState.Stopping), (SandboxState.Created, SandboxState.Removing),
        (SandboxState.Starting, SandboxState.Ready), (SandboxState.Starting, SandboxState.Removing),
        (SandboxState.Ready, SandboxState.Pending), (SandboxState.Ready, SandboxState.Stopping), (SandboxState.Ready, SandboxState.Stopped),
        (SandboxState.Pending, SandboxState.Ready), (SandboxState.Pending, SandboxState.Stopping), (SandboxState.Pending, SandboxState.Stopped),
        (SandboxState.Stopping, SandboxState.Stopping), (SandboxState.Stopping, SandboxState.Stopped),
        (SandboxState.Stopped, SandboxState.Removing),
        (SandboxState.Removing, SandboxState.Removing),
        (SandboxState.Unknown, SandboxState.Ready), (SandboxState.Unknown, SandboxState.Pending), (SandboxState.Unknown, SandboxState.Stopping),
        (SandboxState.Unknown, SandboxState.Stopped), (SandboxState.Unknown, SandboxState.Removing),
    ];

    public static TheoryData<SandboxState, SandboxState> AllPairs()
    {
        var data = new TheoryData<SandboxState, SandboxState>();
        foreach (var from in Enum.GetValues<SandboxState>())
        {
            foreach (var to in Enum.GetValues<SandboxState>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void Transition_is_allowed_exactly_when_the_design_allows_it(SandboxState from, SandboxState to)
    {
        Assert.Equal(Expected.Contains((from, to)), SandboxTransitions.IsAllowed(from, to));
        if (!Expected.Contains((from, to)))
        {
            var e = Assert.Throws<IsolaException>(() => SandboxTransitions.Ensure("sb1", "frob", from, to));
            Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
            Assert.Contains("'sb1'", e.Message);
            Assert.Contains(from.ToString(), e.Message);
        }
    }

    [Fact]
    public void Nothing_leads_back_to_Creating_or_Unknown()
    {
        foreach (var from in Enum.GetValues<SandboxState>())
        {
            Assert.False(SandboxTransitions.IsAllowed(from, SandboxState.Creating));
            Assert.False(SandboxTransitions.IsAllowed(from, SandboxState.Unknown));
        }
    }
}
