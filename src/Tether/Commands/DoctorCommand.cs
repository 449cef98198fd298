using System.CommandLine;

namespace Tether.Commands;

/// <summary>`tether doctor` — owned by the doctor work (issue 7).</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Verify keep-alive on a live endpoint and audit this host.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("tether doctor: not built yet");
            return 2;
        });
        return command;
    }
}
