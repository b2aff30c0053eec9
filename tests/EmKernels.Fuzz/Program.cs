using EmKernels.Fuzz;
using SharpFuzz;

// afl-fuzz runs this once per target: `dotnet EmKernels.Fuzz.dll csv` (see fuzz.sh). A finding is thrown, which
// SharpFuzz reports to afl-fuzz as a crash; with a second argument FILE, runs that one input and prints the finding.
string target = args.Length > 0 ? args[0] : throw new ArgumentException($"Give a target: {string.Join(", ", FuzzTargets.Names)}.");
string folder = Directory.CreateTempSubdirectory("emk-fuzz-").FullName;
if (args.Length > 1)
{
    FuzzTargets.Run(target, File.ReadAllBytes(args[1]), folder);
    Console.WriteLine("no finding");
    return;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    FuzzTargets.Run(target, copy.ToArray(), folder);
});
