using System.CommandLine;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv completion bash|zsh|pwsh</c>: prints a shell script that completes onnxconv's commands, options and
/// option values by asking onnxconv itself through System.CommandLine's <c>[suggest]</c> directive.
/// </summary>
public static class CompletionCommand
{
    private static readonly string[] Shells = ["bash", "zsh", "pwsh"];

    public static Command Create(CliContext context)
    {
        var shell = new Argument<string>("shell")
        {
            Description = $"The shell: {string.Join(", ", Shells)}.",
            HelpName = string.Join('|', Shells),
        };
        shell.CompletionSources.Add(Shells);
        shell.Validators.Add(result =>
        {
            string value = result.GetValueOrDefault<string>();
            if (!Shells.Contains(value))
                result.AddError($"completion {value}: not one of {string.Join(", ", Shells)}{Suggestions.DidYouMean(value, Shells)}");
        });
        var command = new Command("completion", CommonOptions.Described("Print a tab-completion script for bash, zsh or PowerShell.",
            "source <(onnxconv completion bash)"))
        {
            shell,
        };
        command.SetAction(parse => context.Execute(parse, () =>
        {
            ReportOutput.Write(context, null, Script(parse.GetValue(shell)!));
            return (int)ExitCode.Ok;
        }));
        return command;
    }

    internal static string Script(string shell) => shell switch
    {
        "bash" => """
            # onnxconv completion for bash: source <(onnxconv completion bash), or save it to
            # ~/.local/share/bash-completion/completions/onnxconv
            _onnxconv_complete()
            {
                local IFS=$'\n'
                local candidates
                candidates=$(onnxconv "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)
                COMPREPLY=( $(compgen -W "${candidates}" -- "${COMP_WORDS[COMP_CWORD]}") )
            }
            complete -o default -F _onnxconv_complete onnxconv

            """,
        "zsh" => """
            #compdef onnxconv
            # onnxconv completion for zsh: source <(onnxconv completion zsh) after compinit, or save it as _onnxconv in $fpath
            _onnxconv()
            {
                local -a candidates
                candidates=("${(@f)$(onnxconv "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
                _describe 'onnxconv' candidates || _files
            }
            compdef _onnxconv onnxconv

            """,
        _ => """
            # onnxconv completion for PowerShell: onnxconv completion pwsh | Out-String | Invoke-Expression (e.g. in $PROFILE)
            Register-ArgumentCompleter -Native -CommandName onnxconv -ScriptBlock {
                param($wordToComplete, $commandAst, $cursorPosition)
                $offset = $cursorPosition - $commandAst.Extent.StartOffset
                onnxconv "[suggest:$offset]" "$commandAst" 2>$null | Where-Object { $_.StartsWith($wordToComplete) } | ForEach-Object {
                    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
                }
            }

            """,
    };
}
