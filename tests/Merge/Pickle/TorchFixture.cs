using System.Diagnostics;

namespace DotnetMerge.Tests.Pickle;

/// <summary>Checkpoints written by real torch (python3-torch) once per test class: a state dict with tied weights, a
/// view with an offset, a transposed and a sliced view, bf16/f16/int64/0-dim tensors and a Parameter, saved in the zip
/// format (protocol 2 and 4) and in the legacy format; beside each tensor, its contiguous bytes as torch lays them out
/// (<c>NAME.raw</c>), the reference the reader is compared to. <see cref="SkipReason"/> is set when torch is missing.</summary>
public sealed class TorchFixture : IDisposable
{
    public const string Script = """
import sys, os, collections, torch
out = sys.argv[1]
torch.manual_seed(0)
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
emb = torch.randn(5, 3)
d = torch.randn(2, 3)
sd = collections.OrderedDict()
sd["model.embed_tokens.weight"] = emb
sd["lm_head.weight"] = emb
sd["view.columns"] = base[:, 1:3]
sd["view.row"] = base.view(-1)[4:8]
sd["base.full"] = base
sd["transposed"] = d.t()
sd["bf16"] = torch.randn(4, 6).to(torch.bfloat16)
sd["f16.transposed"] = torch.randn(3, 5).to(torch.float16).t()
sd["int64"] = torch.arange(-3, 4, dtype=torch.int64)
sd["scalar"] = torch.tensor(2.5)
sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
torch.save(sd, os.path.join(out, "pytorch_model.bin"))
torch.save(sd, os.path.join(out, "proto4.bin"), pickle_protocol=4)
torch.save(sd, os.path.join(out, "legacy.bin"), _use_new_zipfile_serialization=False)
sharded = os.path.join(out, "sharded")
os.makedirs(sharded)
names = list(sd.keys())
halves = [names[:5], names[5:]]
weight_map = {}
for i, half in enumerate(halves):
    shard = "pytorch_model-%05d-of-00002.bin" % (i + 1)
    torch.save(collections.OrderedDict((n, sd[n]) for n in half), os.path.join(sharded, shard))
    weight_map.update({n: shard for n in half})
import json
with open(os.path.join(sharded, "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)
with open(os.path.join(sharded, "config.json"), "w") as f:
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}, f)
with open(os.path.join(sharded, "tokenizer.json"), "w") as f:
    f.write("{}")
for name, t in sd.items():
    with open(os.path.join(out, name + ".raw"), "wb") as f:
        f.write(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
""";

    public TorchFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-pickle-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        SkipReason = Python.Run(Root, Script, Root);
    }

    public string Root { get; }

    /// <summary>Why the torch-written fixtures are missing (null when they exist).</summary>
    public string? SkipReason { get; }

    public string PathOf(string name) => Path.Combine(Root, name);

    public byte[] Raw(string tensor) => File.ReadAllBytes(PathOf(tensor + ".raw"));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Runs a python3 script (with torch) for fixtures; returns a skip reason when python3 or torch is missing.</summary>
public static class Python
{
    /// <summary>The interpreters tried, in order: the one on PATH (it may be a pyenv without torch), then Debian's, where
    /// python3-torch installs.</summary>
    private static readonly string[] Interpreters = ["python3", "/usr/bin/python3"];

    public static string? Run(string workDir, string script, params string[] args)
    {
        string? reason = null;
        foreach (var python in Interpreters)
        {
            reason = RunWith(python, workDir, script, args);
            if (reason is null) return null;
        }
        return reason;
    }

    private static string? RunWith(string python, string workDir, string script, string[] args)
    {
        string scriptPath = Path.Combine(workDir, "fixture-" + Guid.NewGuid().ToString("N") + ".py");
        File.WriteAllText(scriptPath, script);
        var psi = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(scriptPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception) { return "python3 is not installed (apt-get install -y python3-torch)"; }
        using (p)
        {
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode == 0) return null;
            if (err.Contains("No module named 'torch'", StringComparison.Ordinal)) return "torch is not installed for python3 (apt-get install -y python3-torch)";
            throw new InvalidOperationException($"the fixture script failed (exit {p.ExitCode}): {err}");
        }
    }
}
