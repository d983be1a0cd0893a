using DotnetMerge.Demo;
using DotnetMerge.Engine;
using TypedPlans;

// `dotnet run -p:DotnetMergeSkip=true -- prepare` writes the small synthetic input models into ../models
// (models/ next to merges/). Without arguments, the typed plan runs into out/chat-code.
if (args is ["prepare"])
{
    var root = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "models");
    var spec = new LlamaSpec(Layers: 4, Hidden: 64, Intermediate: 176, Vocab: 512);
    await SyntheticModels.WriteBaseAsync(Path.Combine(root, "base"), spec);
    await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "chat"), spec, new FineTune("chat", "self_attn", 0, 0.5, 1.0, 11));
    await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "math"), spec, new FineTune("math", "mlp", 1, 0.5, 0.8, 12));
    await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "code"), spec, new FineTune("code", "proj", 0, 0.4, 0.7, 13));
    Console.WriteLine("wrote base, chat, math and code into " + Path.GetFullPath(root));
    return;
}

// The typed plan: models and parameters are members, checked by the compiler. With... returns a modified copy.
var plan = new ChatCodeMergePlan().WithCodeWeight(0.5);
Console.WriteLine($"{ChatCodeMergePlan.Method}: chat {plan.Chat.Weight}, code {plan.Code.Weight} (defined as 0.4)");

var output = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "out", "chat-code");
var result = await plan.RunAsync(output, new MergeOptions { Force = true, Threads = 2 });
Console.WriteLine($"merged {result.TensorCount} tensors into {Path.GetFullPath(result.OutputDirectory)}");

// The build step's plan is typed too (PlanName="TiesPlan"); only the gradient weight is a nullable double (models/math is
// MathModel: a member named Math would hide System.Math).
var ties = new TiesPlan();
Console.WriteLine($"ties (build step): math weight {(ties.MathModel.Weight is null ? "a gradient" : ties.MathModel.Weight.ToString())}, lambda {ties.Lambda}");
