namespace DotnetMerge.Bench;
internal static class Micro { public static int Run(string[] args) => 0; }
