using System.Globalization;
using Consumer;
using DotnetMerge.Engine;

var plan = new TypedMergePlan().WithTunedWeight(0.75);
double tuned = plan.Tuned.Weight;   // its own parameter record: a double, although Other's weight is a gradient
double? other = plan.Other.Weight;
var edited = plan with { TrimScope = TypedMergePlan.TrimScopeOption.Model, Other = plan.Other with { Weight = 0.25 } };
var same = edited == plan.WithTrimScope(TypedMergePlan.TrimScopeOption.Model).WithOtherWeight(0.25);
var result = await edited.RunAsync(args[0], new MergeOptions { Threads = 1 });
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"typed plan merged {result.TensorCount} tensors; tuned weight {tuned}; other {(other is null ? "a gradient" : "a number")}, then {edited.Other.Weight}; trim scope {edited.TrimScope}; records equal {same}"));
