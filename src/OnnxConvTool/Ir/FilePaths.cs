using System.Runtime.InteropServices;

namespace OnnxConvTool.Ir;

/// <summary>What kind of file system entry a path names (symbolic links followed).</summary>
internal enum FileKind
{
    Missing,
    Regular,
    Directory,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// <summary>A path's kind, hard link count, size and identity (device and inode; zero where the OS does not say).</summary>
internal sealed record FileStatus(FileKind Kind, long Size, int LinkCount, ulong Device, ulong Inode)
{
    public static readonly FileStatus Missing = new(FileKind.Missing, 0, 0, 0, 0);

    public bool IsSameFileAs(FileStatus other) =>
        Kind != FileKind.Missing && Inode != 0 && Device == other.Device && Inode == other.Inode;

    /// <summary>How a message names the kind: "a directory", "a character device" …</summary>
    public string KindText => Kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a named pipe (FIFO)",
        _ => "a socket",
    };
}

internal static partial class FilePaths
{
    /// <summary>The full path with every symbolic link along it resolved (parts that do not exist are kept as written).</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full)!;
        string current = root;
        foreach (string part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                current = RealPath(target.FullName);
        }
        return current;
    }

    /// <summary>True when both paths lead to the same file: the same path once symbolic links are resolved, or hard links to one file.</summary>
    public static bool SameFile(string a, string b) =>
        string.Equals(RealPath(a), RealPath(b), StringComparison.Ordinal) || Status(a).IsSameFileAs(Status(b));

    /// <summary>The status of the file <paramref name="path"/> leads to (symbolic links followed).</summary>
    public static FileStatus Status(string path)
    {
        if (path.Contains('\0')) return FileStatus.Missing;
        if (OperatingSystem.IsLinux())
        {
            Span<byte> buffer = stackalloc byte[StatxSize];
            if (Statx(AtCurrentDirectory, path, 0, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) == 0) return FromStatx(buffer);
            return FileStatus.Missing;
        }
        if (Directory.Exists(path)) return new FileStatus(FileKind.Directory, 0, 1, 0, 0);
        var info = new FileInfo(path);
        return info.Exists ? new FileStatus(FileKind.Regular, info.Length, 1, 0, 0) : FileStatus.Missing;
    }

    /// <summary>The status of an open file (null where the OS cannot say), so a check cannot be raced by renaming the path.</summary>
    public static FileStatus? Status(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> buffer = stackalloc byte[StatxSize];
        int fd = (int)handle.DangerousGetHandle();
        return Statx(fd, "", AtEmptyPath, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) == 0 ? FromStatx(buffer) : null;
    }

    // struct statx (linux/stat.h) has the same layout on every architecture.
    private const int StatxSize = 256;
    private const int AtCurrentDirectory = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    private static FileStatus FromStatx(ReadOnlySpan<byte> s)
    {
        uint links = BitConverter.ToUInt32(s[16..]);
        int mode = BitConverter.ToUInt16(s[28..]);
        ulong inode = BitConverter.ToUInt64(s[32..]);
        long size = (long)BitConverter.ToUInt64(s[40..]);
        ulong device = ((ulong)BitConverter.ToUInt32(s[136..]) << 32) | BitConverter.ToUInt32(s[140..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            _ => FileKind.Socket,
        };
        return new FileStatus(kind, size, (int)Math.Min(links, int.MaxValue), device, inode);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, ref byte buffer);
}
