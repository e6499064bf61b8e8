// The namespaces most commands and renderers of the CLI read from: named once here rather than at the top of each file.
global using System.CommandLine;
global using System.Globalization;
global using Asd.Native.Backends.Onnx;
global using Asd.Native.Denoising;
global using Asd.Native.IO;
global using Asd.Native.Models;
global using Asd.Native.Sampling;
global using Asd.Native.Tasks;
global using Asd.Native.Threading;
