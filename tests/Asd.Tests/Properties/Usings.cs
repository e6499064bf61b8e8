// The namespaces the property code imports, declared once for it (issue 14: the per-file lists repeated each other).
// tools/power_study compiles Properties/*.cs and Statistics/*.cs without the test project, so these come with the
// files themselves rather than from Asd.Tests.csproj; in the test project they apply to every file, like the
// project's own <Using> items.
global using Asd.Native.Backends.Analytic;
global using Asd.Native.Backends.Onnx;
global using Asd.Native.Denoising;
global using Asd.Native.Models;
global using Asd.Native.Sampling;
global using Asd.Native.Schedules;
global using Asd.Simd.Kernels;
global using Asd.Simd.Random;
global using Asd.Tests.Statistics;
global using FsCheck;
global using FsCheck.Fluent;
