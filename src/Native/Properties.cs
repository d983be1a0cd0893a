using System.Runtime.CompilerServices;

// Every native signature in this assembly is blittable (pointers, nint, integers, int-backed enums), so the
// LibraryImport stubs are plain calls with no marshalling code.
[assembly: DisableRuntimeMarshalling]
