import Foundation

/// File names of a Megatron-LM checkpoint directory:
/// `latest_checkpointed_iteration.txt`, `iter_{step:07d}/mp_rank_{tp:02d}[_{pp:03d}]/<rank file>`
/// (`model_optim_rng.h5` for ckpt's HDF5 rank files, `model_optim_rng.pt` for Megatron-LM's);
/// a tracker holding `release` names the `release/` directory instead of an iteration.
public enum MegatronDirectory {
    /// The tracker file naming the latest iteration.
    public static let trackerFile = "latest_checkpointed_iteration.txt"
    /// The ckpt HDF5 checkpoint file inside each rank directory.
    public static let rankFile = "model_optim_rng.h5"
    /// The directory a `release` tracker names.
    public static let releaseDirectory = "release"

    /// `iter_{step:07d}`.
    public static func iterationDirectory(step: Int64) -> String {
        "iter_" + String(step).leftPadded(to: 7)
    }

    /// The directory Megatron-LM's own formats save `step` in: `release` for step 0 (Megatron-LM
    /// refuses a tracker holding 0), else `iter_{step:07d}`.
    public static func savedDirectory(step: Int64) -> String {
        step == 0 ? releaseDirectory : iterationDirectory(step: step)
    }

    /// The tracker file's text naming `savedDirectory(step:)`: `release` or the step, one line.
    public static func trackerText(step: Int64) -> String {
        (step == 0 ? releaseDirectory : String(step)) + "\n"
    }

    /// The path of `file`'s checkpoint relative to the checkpoint root.
    public static func relativePath(of file: ShardFile, shape: MegatronShape, step: Int64, rankFile: String = rankFile) -> String {
        "\(iterationDirectory(step: step))/\(shape.rankDirectoryName(file))/\(rankFile)"
    }

    /// Parses a rank directory name (`mp_rank_03` or `mp_rank_03_001`) into (tp rank, pp rank
    /// or nil when the name has no pipeline part).
    public static func parseRankDirectory(_ name: String) -> (tp: Int, pp: Int?)? {
        guard name.hasPrefix("mp_rank_") else { return nil }
        let parts = name.dropFirst("mp_rank_".count).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let t = Int(parts[0]), t >= 0 else { return nil }
        if parts.count == 1 { return (t, nil) }
        guard let p = Int(parts[1]), p >= 0 else { return nil }
        return (t, p)
    }

    /// Finds the iteration directory of a checkpoint given its root (with the tracker file) or
    /// an `iter_*` directory itself.
    public static func iterationDirectory(of root: String) throws(ShardingError) -> String {
        let fm = FileManager.default
        let tracker = root + "/" + trackerFile
        if fm.fileExists(atPath: tracker) {
            guard let text = try? String(contentsOfFile: tracker, encoding: .utf8) else {
                throw .io(path: tracker, detail: "cannot read the tracker file")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if value == releaseDirectory {
                let dir = root + "/" + releaseDirectory
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                    throw .notACheckpoint(path: dir, detail: "the tracker names the release checkpoint but its directory is missing")
                }
                return dir
            }
            guard let step = Int64(value) else {
                throw .notACheckpoint(path: tracker, detail: "tracker holds '\(value)', not an iteration number or 'release'")
            }
            let dir = root + "/" + iterationDirectory(step: step)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw .notACheckpoint(path: dir, detail: "the tracker names iteration \(step) but its directory is missing")
            }
            return dir
        }
        let last = URL(fileURLWithPath: root).lastPathComponent
        if last.hasPrefix("iter_") || last == releaseDirectory { return root }
        throw .notACheckpoint(path: root, detail: "no \(trackerFile) and not an iter_* directory")
    }
}
