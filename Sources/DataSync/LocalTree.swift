import Foundation

/// Scans and prepares the volume's directory tree without ever leaving it.
///
/// Symbolic links are skipped with a warning and never followed (a link could point
/// anywhere on the node); other special files are skipped likewise. `.stowage/` at the
/// root is Stowage's own and never synced.
enum LocalTree {
    struct Scan {
        var files: [LocalFile] = []
        var warnings: [String] = []
        /// Partial downloads a killed run left (`partialPrefix`): never part of the volume.
        var partials: [String] = []
    }

    /// Downloads are written next to their destination under this name, then renamed: the
    /// temporary file's inode is allocated in the destination directory (as rclone does),
    /// not in one shared directory whose lock and inode group every download would share.
    static let partialPrefix = ".stowage-partial."

    static func scan(root: String) throws -> Scan {
        var scan = Scan()
        var st = stat()
        guard lstat(root, &st) == 0 else {
            if errno == ENOENT { return scan }
            throw SyncError(.localIO, "cannot read \(root): \(String(cString: strerror(errno)))")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw SyncError(.localIO, "\(root) is not a directory") }
        try walk(root: root, relative: "", into: &scan)
        return scan
    }

    private static func walk(root: String, relative: String, into scan: inout Scan) throws {
        let directory = relative.isEmpty ? root : root + "/" + relative
        guard let handle = opendir(directory) else {
            throw SyncError(.localIO, "cannot list \(directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var subdirectories: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(validatingCString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard let name else {
                scan.warnings.append("skipped a name in \(relative.isEmpty ? "." : relative) that is not valid UTF-8")
                continue
            }
            if name == "." || name == ".." { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            if relative.isEmpty && name == Manifest.directory { continue }
            var st = stat()
            guard lstat(root + "/" + path, &st) == 0 else { continue } // vanished while scanning
            switch st.st_mode & S_IFMT {
            case S_IFREG where name.hasPrefix(partialPrefix):
                scan.partials.append(path)
            case S_IFREG:
                scan.files.append(LocalFile(path: path, size: Int64(st.st_size), mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)))
            case S_IFDIR:
                subdirectories.append(path)
            case S_IFLNK:
                scan.warnings.append("skipped symbolic link \(path) (links are never followed)")
            default:
                scan.warnings.append("skipped special file \(path)")
            }
        }
        for sub in subdirectories { try walk(root: root, relative: sub, into: &scan) }
    }

    /// Creates the parent directories of `path` inside `root`, refusing to pass through a
    /// symbolic link or a file, so a download can never be written outside the tree.
    static func prepareParent(root: String, path: String) throws {
        var current = root
        for component in path.split(separator: "/").dropLast() {
            current += "/" + component
            var st = stat()
            if lstat(current, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw SyncError(.localIO, "\(path): \(current) is not a directory (links are never followed)")
                }
            } else if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SyncError(.localIO, "cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Removes directories left empty by local deletions, up to (not including) the root.
    static func pruneEmptyParents(root: String, path: String) {
        var components = path.split(separator: "/").dropLast()
        while !components.isEmpty {
            guard rmdir(root + "/" + components.joined(separator: "/")) == 0 else { return }
            components = components.dropLast()
        }
    }

    /// Whether an object key maps to a safe relative path: no empty, `.` or `..` segment.
    static func isSafe(_ path: String) -> Bool {
        !path.isEmpty && !path.hasSuffix("/") && path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
            && !(path == Manifest.directory || path.hasPrefix(Manifest.directory + "/"))
    }
}
