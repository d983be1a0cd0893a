namespace DotnetMerge.Tool;

/// <summary>Exit codes of dotnet-merge (listed in --help).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>An unexpected error (a bug): run again with -v diag and report the stack trace.</summary>
    public const int Unexpected = 1;
    /// <summary>Bad command line or merge definition (syntax, schema, method, parameters).</summary>
    public const int InvalidDefinition = 2;
    /// <summary>An input model is missing, malformed or incompatible with the others.</summary>
    public const int InvalidInput = 3;
    /// <summary>The requested device is not available.</summary>
    public const int DeviceUnavailable = 4;
    /// <summary>The output cannot be written (not empty without --force, inside an input, disk full...).</summary>
    public const int OutputError = 5;
    /// <summary>Cancelled (Ctrl+C / SIGTERM); nothing was written.</summary>
    public const int Cancelled = 130;

    public const string HelpText =
        "Exit codes: 0 success; 1 unexpected error (a bug: rerun with -v diag); 2 invalid command line or definition; " +
        "3 invalid or incompatible input model; 4 device unavailable; 5 output cannot be written; 130 cancelled (nothing written).";
}
