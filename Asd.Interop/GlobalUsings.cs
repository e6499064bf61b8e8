// The namespaces the ABI layer reads from throughout: the marshalling helpers and the engine's model and sampling types.
global using System.Runtime.CompilerServices;
global using System.Runtime.InteropServices;
global using Asd.Native.Denoising;
global using Asd.Native.Models;
global using Asd.Native.Sampling;
