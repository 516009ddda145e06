using System.Runtime.InteropServices;

namespace OnnxConvTool.Ir;

/// <summary>Copies a range of one open file to the end of an output stream, in the kernel when the OS allows.</summary>
internal static partial class FileRanges
{
    private static bool _kernelCopyUnavailable = !OperatingSystem.IsLinux();

    /// <summary>
    /// Appends <paramref name="length"/> bytes of <paramref name="source"/> from <paramref name="offset"/> to
    /// <paramref name="destination"/>. Uses copy_file_range on Linux (no pass through user memory); elsewhere,
    /// or when the file systems refuse, writes <paramref name="fallback"/>'s bytes instead.
    /// </summary>
    public static void Copy(FileStream source, long offset, long length, FileStream destination, Func<ReadOnlySpan<byte>>? fallback)
    {
        if (!_kernelCopyUnavailable)
        {
            destination.Flush();
            long start = destination.Position;
            long inOffset = offset, outOffset = start, remaining = length;
            int fdIn = (int)source.SafeFileHandle.DangerousGetHandle();
            int fdOut = (int)destination.SafeFileHandle.DangerousGetHandle();
            try
            {
                while (remaining > 0)
                {
                    nint copied = CopyFileRange(fdIn, ref inOffset, fdOut, ref outOffset, (nuint)Math.Min(remaining, 1L << 30), 0);
                    if (copied < 0)
                    {
                        if (remaining != length) throw new IOException($"copying {length} bytes from {source.Name} failed (errno {Marshal.GetLastPInvokeError()})");
                        _kernelCopyUnavailable = true;
                        break;
                    }
                    if (copied == 0) throw new IOException($"{source.Name} ended before offset {offset + length}");
                    remaining -= copied;
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                _kernelCopyUnavailable = true;
            }
            if (remaining == 0)
            {
                destination.Position = start + length;
                return;
            }
        }
        if (fallback is not null)
        {
            destination.Write(fallback());
            return;
        }
        StreamCopy(source, offset, length, destination);
    }

    private static void StreamCopy(FileStream source, long offset, long length, Stream destination)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            while (length > 0)
            {
                int read = RandomAccess.Read(source.SafeFileHandle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length)), offset);
                if (read == 0) throw new IOException($"{source.Name} ended before offset {offset + length}");
                destination.Write(buffer, 0, read);
                offset += read;
                length -= read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static partial nint CopyFileRange(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);
}
