using Consumer;
using DotnetMerge.Engine;

var plan = new TypedMergePlan().WithTunedWeight(0.75);
var result = await plan.RunAsync(args[0], new MergeOptions { Threads = 1 });
Console.WriteLine($"typed plan merged {result.TensorCount} tensors; tuned weight {plan.Tuned.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
