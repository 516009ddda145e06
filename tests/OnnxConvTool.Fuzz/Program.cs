using OnnxConvTool.Fuzz;

return args switch
{
    ["afl"] => AflTarget.Run(),
    ["seeds", var directory] => SeedCorpus.Write(directory),
    ["replay", .. var paths] when paths.Length > 0 => Replay.Run(paths),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: OnnxConvTool.Fuzz afl              run under afl-fuzz (the library assembly instrumented by sharpfuzz)
               OnnxConvTool.Fuzz seeds DIR        write the seed corpus (../shared, models/ and builder models) into DIR
               OnnxConvTool.Fuzz replay PATH...   run files or folders through the pipeline; exit 1 on a crash or hang
        tests/OnnxConvTool.Fuzz/fuzz.sh runs the whole campaign (build, instrument, seed, fuzz, replay findings).
        """);
    return 2;
}
