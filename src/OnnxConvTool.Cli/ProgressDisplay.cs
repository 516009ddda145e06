using System.CommandLine;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OnnxConvTool.Cli;

/// <summary>
/// Progress of a command on stderr, drawn by Spectre.Console once the work has lasted about a second, and only when
/// stderr is a terminal and <c>--quiet</c> is not given. The library reports <see cref="WorkProgress"/> from any
/// thread; a drawing thread polls the latest report and draws one line for the current phase, cleared when disposed.
/// Dispose it before writing to stdout: both may be the same terminal.
/// </summary>
internal sealed class ProgressDisplay : IProgress<WorkProgress>, IDisposable
{
    /// <summary>How long work runs before its progress is drawn: 1 s, or ONNXCONV_PROGRESS_DELAY_MS milliseconds (tests set 0).</summary>
    private static TimeSpan ShowAfter =>
        int.TryParse(Environment.GetEnvironmentVariable("ONNXCONV_PROGRESS_DELAY_MS"), out int ms) && ms >= 0 ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(100);

    private readonly object _gate = new();
    private readonly ManualResetEventSlim _finished = new();
    private readonly Thread? _drawing;
    private readonly TextWriter _error;
    private WorkProgress? _latest;
    private IAnsiConsole? _live;

    private ProgressDisplay(TextWriter error, TextWriter? terminal)
    {
        _error = error;
        if (terminal is null) return;
        _drawing = new Thread(() => Draw(terminal)) { IsBackground = true, Name = "onnxconv progress" };
        _drawing.Start();
    }

    /// <summary>A display for this command: drawing when stderr is a terminal and --quiet is absent, else one that only ignores reports.</summary>
    public static ProgressDisplay For(CliContext context, ParseResult parse) =>
        new(context.Error, context.ErrorIsTerminal && !parse.GetValue(CommonOptions.Quiet) ? context.Error : null);

    /// <summary>Whether progress is drawn at all (stderr is a terminal and --quiet is absent).</summary>
    public bool Enabled => _drawing is not null;

    public void Report(WorkProgress value)
    {
        if (_drawing is null) return;
        lock (_gate) _latest = value;
    }

    /// <summary>Writes a line to stderr, above the progress lines while they are drawn.</summary>
    public void WriteError(string line)
    {
        lock (_gate)
        {
            if (_live is not null) _live.Write(new UnwrappedLine(line));
            else _error.WriteLine(line);
        }
    }

    private WorkProgress? Latest
    {
        get { lock (_gate) return _latest; }
    }

    private void Draw(TextWriter terminal)
    {
        if (_finished.Wait(ShowAfter)) return;
        try
        {
            DrawUntilFinished(terminal);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // The terminal went away or would not take the drawing; the command's own output matters, not its progress.
        }
    }

    private void DrawUntilFinished(TextWriter terminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(terminal),
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.Yes,
        });
        lock (_gate) _live = console;
        console.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(progress =>
            {
                ProgressTask? task = null;
                do
                {
                    if (Latest is { } latest)
                    {
                        if (task is null || task.Description != Markup.Escape(latest.Phase))
                        {
                            task?.StopTask();
                            task = progress.AddTask(Markup.Escape(latest.Phase), maxValue: Math.Max(latest.Total, 1));
                        }
                        task.IsIndeterminate = latest.Total <= 0;
                        task.MaxValue = Math.Max(latest.Total, 1);
                        task.Value = Math.Min(latest.Done, task.MaxValue);
                    }
                    progress.Refresh();
                }
                while (!_finished.Wait(Refresh));
            });
    }

    /// <summary>A line as it is: a path in a message stays whole, for the terminal to wrap (Spectre's Text would break it at its own idea of the width).</summary>
    private sealed class UnwrappedLine(string text) : IRenderable
    {
        public Measurement Measure(RenderOptions options, int maxWidth) => new(text.Length, text.Length);

        public IEnumerable<Segment> Render(RenderOptions options, int maxWidth) => [new Segment(text), Segment.LineBreak];
    }

    public void Dispose()
    {
        if (_finished.IsSet) return;
        _finished.Set();
        _drawing?.Join();
        lock (_gate) _live = null;
    }
}
